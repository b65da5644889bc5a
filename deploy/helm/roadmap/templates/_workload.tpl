{{/*
The one workload definition: every service's Deployment is this template applied to its entry
under .Values.services (templates/workloads.yaml iterates them). Per-service differences are data:
port, replicas, resources, WORKER_CONCURRENCY (in its ConfigMap), whether it calls the LLM.
Context: (dict "root" $ "key" "<services key>" "svc" <services entry>).
*/}}
{{- define "roadmap.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $component := include "roadmap.component" . -}}
{{- $name := include "roadmap.componentFullname" . -}}
{{- $scaling := include "roadmap.scaling" . -}}
{{- $ownSecret := include "roadmap.ownSecretData" $root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "roadmap.labels" (dict "root" $root "component" $component) | nindent 4 }}
spec:
  {{- if eq $scaling "none" }}
  replicas: {{ .svc.replicaCount }}
  {{- end }}
  revisionHistoryLimit: {{ $v.revisionHistoryLimit }}
  selector:
    matchLabels:
      {{- include "roadmap.selectorLabels" (dict "root" $root "component" $component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # A new pod is ready before an old one stops; the old one hands its work back on SIGTERM.
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "roadmap.labels" (dict "root" $root "component" $component) | nindent 8 }}
        {{- with .svc.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "roadmap.configData" . | trim | sha256sum }}
        {{- if $ownSecret }}
        checksum/secret: {{ $ownSecret | sha256sum }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "roadmap.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $v.serviceAccount.automount }}
      # No SERVICE_HOST/PORT variables for every Service in the namespace: configuration is explicit.
      enableServiceLinks: false
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ include "roadmap.terminationGracePeriodSeconds" $root }}
      containers:
        - name: {{ $component }}
          image: {{ include "roadmap.image" . | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .svc.port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $name }}
          {{- with .svc.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- include "roadmap.secretEnv" (dict "root" $root "llm" .svc.llm "ownSecret" (include "roadmap.fullname" $root)) | trim | nindent 12 }}
            {{- with include "roadmap.secretFileEnv" $root | trim }}{{ . | nindent 12 }}{{ end }}
          startupProbe:
            httpGet:
              path: {{ $v.probes.startup.path }}
              port: http
            {{- toYaml (omit $v.probes.startup "path") | nindent 12 }}
          livenessProbe:
            httpGet:
              path: {{ $v.probes.liveness.path }}
              port: http
            {{- toYaml (omit $v.probes.liveness "path") | nindent 12 }}
          readinessProbe:
            httpGet:
              path: {{ $v.probes.readiness.path }}
              port: http
            {{- toYaml (omit $v.probes.readiness "path") | nindent 12 }}
          lifecycle:
            # Endpoints and ingress controllers drop the pod while it sleeps; then SIGTERM starts
            # the graceful shutdown (readiness false, consumers stop, in-flight work finishes).
            preStop:
              {{- if $v.shutdown.useSleepAction }}
              sleep:
                seconds: {{ $v.shutdown.preStopSleepSeconds }}
              {{- else }}
              exec:
                command: ["sleep", "{{ $v.shutdown.preStopSleepSeconds }}"]
              {{- end }}
          resources:
            {{- toYaml .svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with include "roadmap.secretFileMounts" $root | trim }}{{ . | nindent 12 }}{{ end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $v.tmpVolume.sizeLimit }}
        {{- with include "roadmap.secretFileVolumes" $root | trim }}{{ . | nindent 8 }}{{ end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "roadmap.topologySpread" . | trim }}
      topologySpreadConstraints:
        {{- . | nindent 8 }}
      {{- end }}
{{- end -}}

{{- /* What the Job's two containers share: image, environment, resources, security context, /tmp. */ -}}
{{- define "roadmap.jobContainer" -}}
{{- $v := .root.Values -}}
image: {{ include "roadmap.image" (dict "root" .root "key" "gateway" "svc" $v.services.gateway) | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
env:
  {{- include "roadmap.secretEnv" (dict "root" .root "llm" false "ownSecret" .hookSecret) | trim | nindent 2 }}
  - name: NATS_URL
    value: {{ $v.nats.url | quote }}
  - name: NATS_NAMESPACE
    value: {{ $v.nats.namespace | quote }}
  - name: NATS_STREAM_REPLICAS
    value: {{ include "roadmap.envValue" $v.nats.streamReplicas | quote }}
  - name: NATS_STREAM_LIMITS
    value: {{ $v.nats.streamLimits | default dict | toJson | quote }}
  # The LLM settings the KV buckets are sized by (the workers read the same values).
  - name: LLM_RATE_WINDOW_MS
    value: {{ include "roadmap.envValue" $v.llm.rateWindowMs | quote }}
  - name: LLM_CACHE_TTL_SECONDS
    value: {{ include "roadmap.envValue" $v.llm.cacheTtlSeconds | quote }}
  - name: WORKFLOW_MAX_ATTEMPTS
    value: {{ include "roadmap.envValue" ($v.services.workflowWorker.maxAttempts | default 3) | quote }}
  - name: CONTENT_MAX_ATTEMPTS
    value: {{ include "roadmap.envValue" ($v.services.contentWorker.maxAttempts | default 3) | quote }}
  - name: DATABASE_SCHEMA
    value: {{ $v.database.schema | quote }}
  - name: DATABASE_SSL
    value: {{ $v.database.ssl | quote }}
  - name: LOG_LEVEL
    value: {{ $v.config.logLevel | quote }}
  {{- /* config.extraEnv reaches the Job too: NODE_EXTRA_CA_CERTS for DATABASE_SSL=verify-full, proxies. */}}
  {{- range $name, $value := $v.config.extraEnv }}
  {{- include "roadmap.assertNotSecret" $name }}
  - name: {{ $name }}
    value: {{ include "roadmap.envValue" $value | quote }}
  {{- end }}
  {{- with include "roadmap.secretFileEnv" .root | trim }}{{ . | nindent 2 }}{{ end }}
resources:
  {{- toYaml $v.migrations.resources | nindent 2 }}
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- with include "roadmap.secretFileMounts" .root | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with $v.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
