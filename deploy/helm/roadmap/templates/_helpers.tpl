{{/*
Shared helpers. Per-service helpers take a context made by "roadmap.ctx":
  (dict "root" $ "key" "contentWorker" "svc" $.Values.services.contentWorker)
The component name (label app.kubernetes.io/component, resource suffix, image name) is the
kebab-case of the key under .Values.services: contentWorker -> content-worker.
*/}}

{{- define "roadmap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "roadmap.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "roadmap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries (root context). */}}
{{- define "roadmap.commonLabels" -}}
helm.sh/chart: {{ include "roadmap.chart" . }}
app.kubernetes.io/name: {{ include "roadmap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: roadmap-platform
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Per-service context. */}}
{{- define "roadmap.component" -}}
{{- kebabcase .key -}}
{{- end -}}

{{- define "roadmap.componentFullname" -}}
{{- include "roadmap.suffixedName" (dict "root" .root "suffix" (include "roadmap.component" .)) -}}
{{- end -}}

{{/*
"<fullname>-<suffix>", at most 63 characters (a DNS label: Service and Job names, label values) and
unique for any release name Helm allows (53 characters): when it would be longer, the fullname part
is cut and an 8-character hash of the whole fullname keeps two releases apart, while the suffix
stays whole so two objects of one release never collide. Short names are unchanged, so existing
releases keep their object names. (dict "root" $ "suffix" "content-worker")
*/}}
{{- define "roadmap.suffixedName" -}}
{{- $full := include "roadmap.fullname" .root -}}
{{- $name := printf "%s-%s" $full .suffix -}}
{{- if le (len $name) 63 -}}
{{- $name -}}
{{- else -}}
{{- $keep := int (sub 63 (add (len .suffix) 10)) -}}
{{- if lt $keep 1 -}}{{- fail (printf "name suffix %q is too long for a 63-character name" .suffix) -}}{{- end -}}
{{- printf "%s-%s-%s" (trunc $keep $full | trimSuffix "-") (sha256sum $full | trunc 8) .suffix -}}
{{- end -}}
{{- end -}}

{{/* Labels of one component's objects: (dict "root" $ "component" "gateway"). */}}
{{- define "roadmap.labels" -}}
{{ include "roadmap.commonLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component: never change them on a live release (Deployments' selectors are immutable). */}}
{{- define "roadmap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "roadmap.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "roadmap.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "roadmap.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Image of a service: services.<key>.image.ref if set (a full reference, as skaffold passes it), else
<repository>:<tag>, where repository defaults to [image.registry/]image.repositoryPrefix/<component>
and tag to services.<key>.image.tag, image.tag, then the chart's appVersion.
*/}}
{{- define "roadmap.image" -}}
{{- $img := .svc.image | default dict -}}
{{- if $img.ref -}}
{{- $img.ref -}}
{{- else -}}
{{- $g := .root.Values.image -}}
{{- $repo := $img.repository -}}
{{- if not $repo -}}
{{- $repo = printf "%s/%s" $g.repositoryPrefix (include "roadmap.component" .) | trimPrefix "/" -}}
{{- if $g.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $g.registry) $repo -}}
{{- end -}}
{{- end -}}
{{- $tag := $img.tag | default $g.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repo (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* An environment value as a string: integers stay integers (values files turn 1048576 into 1.048576e+06). */}}
{{- define "roadmap.envValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq . (floor .) -}}{{- printf "%d" (int64 .) -}}{{- else -}}{{- toString . -}}{{- end -}}
{{- else if kindIs "invalid" . -}}
{{- "" -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* Names no ConfigMap may carry: they are secrets and come from Secrets only. */}}
{{- define "roadmap.assertNotSecret" -}}
{{- /* A *_FILE variable holds a path (e.g. NATS_TLS_KEY_FILE), never the secret itself. */ -}}
{{- if and (regexMatch "(^DATABASE_URL$|KEY|SECRET|PASSWORD|TOKEN|CREDENTIALS)" (upper .)) (not (hasSuffix "_FILE" (upper .))) -}}
{{- fail (printf "%s looks like a secret: it cannot go in config.extraEnv or services.*.env (rendered into a ConfigMap); use database.*, llm.* or nats.auth.* (Secrets)" .) -}}
{{- end -}}
{{- end -}}

{{/*
The non-secret environment of one service, as ConfigMap data (every value a quoted string).
Also hashed into the pod annotation checksum/config, so pods roll when it changes.
*/}}
{{- define "roadmap.configData" -}}
{{- $v := .root.Values -}}
{{- $env := dict -}}
{{- $_ := set $env "NATS_URL" $v.nats.url -}}
{{- $_ := set $env "NATS_NAMESPACE" $v.nats.namespace -}}
{{- $_ := set $env "DATABASE_SCHEMA" $v.database.schema -}}
{{- $_ := set $env "DATABASE_POOL_SIZE" (include "roadmap.envValue" $v.database.poolSize) -}}
{{- $_ := set $env "DATABASE_SSL" $v.database.ssl -}}
{{- $_ := set $env "LOG_LEVEL" $v.config.logLevel -}}
{{- $_ := set $env "SHUTDOWN_GRACE_MS" (include "roadmap.envValue" $v.config.shutdownGraceMs) -}}
{{- $_ := set $env "DISPATCH_WORKFLOW_WINDOW" (include "roadmap.envValue" $v.dispatch.workflowWindow) -}}
{{- $_ := set $env "DISPATCH_CONTENT_WINDOW" (include "roadmap.envValue" $v.dispatch.contentWindow) -}}
{{- $_ := set $env "DISPATCH_RELEASE_INTERVAL_MS" (include "roadmap.envValue" $v.dispatch.releaseIntervalMs) -}}
{{- $_ := set $env "PORT" (include "roadmap.envValue" .svc.port) -}}
{{- if .svc.consumers -}}
{{- $_ := set $env "WORKER_CONCURRENCY" (include "roadmap.envValue" .svc.concurrency) -}}
{{- end -}}
{{- if hasKey .svc "standby" -}}
{{- $_ := set $env "WORKER_STANDBY" (include "roadmap.envValue" .svc.standby) -}}
{{- end -}}
{{- with .svc.timeLimits -}}
{{- $kind := eq $.key "workflowWorker" | ternary "WORKFLOW" "CONTENT" -}}
{{- if le (int .hardMs) (int .softMs) -}}{{- fail (printf "services.%s.timeLimits.hardMs must be greater than softMs" $.key) -}}{{- end -}}
{{- $_ := set $env (printf "%s_SOFT_TIME_LIMIT_MS" $kind) (include "roadmap.envValue" .softMs) -}}
{{- $_ := set $env (printf "%s_HARD_TIME_LIMIT_MS" $kind) (include "roadmap.envValue" .hardMs) -}}
{{- end -}}
{{- if .svc.llm -}}
{{- $_ := set $env "LLM_PROVIDER" $v.llm.provider -}}
{{- $_ := set $env "LLM_BASE_URL" $v.llm.baseUrl -}}
{{- $_ := set $env "LLM_MODEL" $v.llm.model -}}
{{- $_ := set $env "LLM_TIMEOUT_MS" (include "roadmap.envValue" $v.llm.timeoutMs) -}}
{{- $_ := set $env "LLM_MAX_RETRIES" (include "roadmap.envValue" $v.llm.maxRetries) -}}
{{- $_ := set $env "LLM_RATE_WINDOW_MS" (include "roadmap.envValue" $v.llm.rateWindowMs) -}}
{{- $_ := set $env "LLM_CACHE_TTL_SECONDS" (include "roadmap.envValue" $v.llm.cacheTtlSeconds) -}}
{{- $_ := set $env "OFFLINE_LLM_LATENCY_MS" (include "roadmap.envValue" $v.llm.offlineLatencyMs) -}}
{{- end -}}
{{- if $v.tracing.otlpEndpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" $v.tracing.otlpEndpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_PROTOCOL" $v.tracing.protocol -}}
{{- with $v.tracing.sampler }}{{ $_ := set $env "OTEL_TRACES_SAMPLER" . }}{{ end -}}
{{- with $v.tracing.samplerArg }}{{ $_ := set $env "OTEL_TRACES_SAMPLER_ARG" (include "roadmap.envValue" .) }}{{ end -}}
{{- with $v.tracing.resourceAttributes }}{{ $_ := set $env "OTEL_RESOURCE_ATTRIBUTES" . }}{{ end -}}
{{- end -}}
{{- range $name, $value := $v.config.extraEnv -}}
{{- include "roadmap.assertNotSecret" $name -}}
{{- $_ := set $env $name (include "roadmap.envValue" $value) -}}
{{- end -}}
{{- range $name, $value := (.svc.env | default dict) -}}
{{- include "roadmap.assertNotSecret" $name -}}
{{- $_ := set $env $name (include "roadmap.envValue" $value) -}}
{{- end -}}
{{- range $name := keys $env | sortAlpha }}
{{ $name }}: {{ get $env $name | toString | quote }}
{{- end -}}
{{- end -}}

{{/* Whether the chart renders its own Secret (values given inline rather than as existing Secrets). */}}
{{- define "roadmap.ownSecretData" -}}
{{- $v := .Values -}}
{{- if $v.database.url }}
DATABASE_URL: {{ $v.database.url | b64enc | quote }}
{{- end }}
{{- if and $v.llm.apiKey (not $v.llm.existingSecret) }}
LLM_API_KEY: {{ $v.llm.apiKey | b64enc | quote }}
{{- end }}
{{- if not $v.nats.auth.existingSecret }}
{{- with $v.nats.auth.user }}
NATS_USER: {{ . | b64enc | quote }}
{{- end }}
{{- with $v.nats.auth.password }}
NATS_PASSWORD: {{ . | b64enc | quote }}
{{- end }}
{{- with $v.nats.auth.token }}
NATS_TOKEN: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Secret environment variables (secretKeyRef only, never a literal value):
  (dict "root" $ "llm" true|false "ownSecret" "<name of the chart-managed Secret to read inline values from>")
The hook Job passes its own pre-install Secret, because the release's Secret does not exist yet
when pre-install hooks run.
*/}}
{{- define "roadmap.secretEnv" -}}
{{- $v := .root.Values -}}
{{- if $v.database.url }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .ownSecret }}
      key: DATABASE_URL
{{- else if $v.database.existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.database.existingSecret }}
      key: {{ $v.database.existingSecretKey }}
{{- else }}
{{- fail "database.existingSecret (a Secret holding DATABASE_URL) or database.url is required" }}
{{- end }}
{{- if .llm }}
{{- if $v.llm.existingSecret }}
- name: LLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.llm.existingSecret }}
      key: {{ $v.llm.existingSecretKey }}
      optional: {{ ne $v.llm.provider "openai" }}
{{- else if $v.llm.apiKey }}
- name: LLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .ownSecret }}
      key: LLM_API_KEY
{{- else if eq $v.llm.provider "openai" }}
{{- fail "llm.provider is openai: set llm.existingSecret (a Secret holding LLM_API_KEY) or llm.apiKey" }}
{{- end }}
{{- end }}
{{- $auth := $v.nats.auth }}
{{- range $var, $field := dict "NATS_USER" "user" "NATS_PASSWORD" "password" "NATS_TOKEN" "token" }}
{{- if $auth.existingSecret }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $auth.existingSecret }}
      key: {{ get $auth (printf "%sKey" $field) }}
      optional: true
{{- else if get $auth $field }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $.ownSecret }}
      key: {{ $var }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Autoscaling of workers: "keda" (ScaledObject on consumer lag), "hpa" (CPU), or "none".
autoscaling.mode auto picks keda when the cluster serves keda.sh/v1alpha1, else hpa.
*/}}
{{- define "roadmap.workerScaling" -}}
{{- $mode := .Values.autoscaling.mode -}}
{{- if eq $mode "auto" -}}
{{- if .Capabilities.APIVersions.Has "keda.sh/v1alpha1" -}}keda{{- else -}}hpa{{- end -}}
{{- else -}}
{{- $mode -}}
{{- end -}}
{{- end -}}

{{/* How one service is scaled: keda, hpa or none (per-service context). */}}
{{- define "roadmap.scaling" -}}
{{- $as := .svc.autoscaling | default dict -}}
{{- if or (eq .root.Values.autoscaling.mode "none") (not $as.enabled) -}}
none
{{- else if .svc.consumers -}}
{{- include "roadmap.workerScaling" .root -}}
{{- else -}}
hpa
{{- end -}}
{{- end -}}

{{/* Whether monitoring.coreos.com objects are rendered: monitoring.enabled true, or auto and the API is served. */}}
{{- define "roadmap.monitoringEnabled" -}}
{{- $m := .Values.monitoring.enabled -}}
{{- if kindIs "bool" $m -}}
{{- if $m -}}true{{- end -}}
{{- else if and (eq (toString $m) "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
true
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the preStop sleep, then SHUTDOWN_GRACE_MS for in-flight work, then
the process's own 5 s hard-exit margin and extra seconds, so the kubelet never SIGKILLs a worker
that is still handing work back.
*/}}
{{- define "roadmap.terminationGracePeriodSeconds" -}}
{{- $v := .Values -}}
{{- if $v.shutdown.terminationGracePeriodSeconds -}}
{{- $v.shutdown.terminationGracePeriodSeconds | int64 -}}
{{- else -}}
{{- $graceSeconds := div (add (int64 $v.config.shutdownGraceMs) 999) 1000 -}}
{{- add (int64 $v.shutdown.preStopSleepSeconds) $graceSeconds 5 (int64 $v.shutdown.extraGraceSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
One NetworkPolicy rule as a YAML list item:
  (dict "peerKey" "to"|"from" "peers" [...] "ports" [...] "protocols" ["UDP","TCP"])
No peers means any peer on those ports.
*/}}
{{- define "roadmap.netpolRule" -}}
{{- $rule := dict -}}
{{- if .peers -}}
{{- $_ := set $rule .peerKey .peers -}}
{{- end -}}
{{- $ports := list -}}
{{- range $port := .ports -}}
{{- range $protocol := ($.protocols | default (list "TCP")) -}}
{{- $ports = append $ports (dict "port" $port "protocol" $protocol) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $rule "ports" $ports -}}
{{- list $rule | toYaml -}}
{{- end -}}

{{/* Egress rules shared by every pod of the release: DNS, NATS, PostgreSQL and extra rules. */}}
{{- define "roadmap.netpolEgress" -}}
{{- $e := .Values.networkPolicy.egress -}}
{{ include "roadmap.netpolRule" (dict "peerKey" "to" "peers" $e.dns.to "ports" $e.dns.ports "protocols" (list "UDP" "TCP")) }}
{{ include "roadmap.netpolRule" (dict "peerKey" "to" "peers" $e.nats.to "ports" $e.nats.ports) }}
{{ include "roadmap.netpolRule" (dict "peerKey" "to" "peers" $e.database.to "ports" $e.database.ports) }}
{{- with $e.extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}


{{/*
Files mounted from Secrets, each with the variable that names its path:
  nats.tls.existingSecret      -> /etc/roadmap/nats-tls/{ca.crt,tls.crt,tls.key}  NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE, NATS_TLS_KEY_FILE
  nats.auth.nkeySecret         -> /etc/roadmap/nats-nkey/nkey.seed                 NATS_NKEY_SEED_FILE
  nats.auth.credsSecret        -> /etc/roadmap/nats-creds/nats.creds               NATS_CREDS_FILE
  database.caSecret            -> /etc/roadmap/database-ca/ca.crt                  NODE_EXTRA_CA_CERTS
Every service and the hook Job get the same (roadmap.secretFileEnv/Volumes/Mounts), so the Job
verifies the same certificates as the services. Returns {files: [{volume, secret, items: [{key, path, env}]}]}.
*/}}
{{- define "roadmap.secretFiles" -}}
{{- $v := .Values -}}
{{- $files := list -}}
{{- $tls := $v.nats.tls -}}
{{- if $tls.existingSecret -}}
{{- $items := list -}}
{{- if $tls.caKey -}}{{- $items = append $items (dict "key" $tls.caKey "path" "ca.crt" "env" "NATS_TLS_CA_FILE") -}}{{- end -}}
{{- if $tls.certKey -}}
{{- $items = append $items (dict "key" $tls.certKey "path" "tls.crt" "env" "NATS_TLS_CERT_FILE") -}}
{{- $items = append $items (dict "key" $tls.keyKey "path" "tls.key" "env" "NATS_TLS_KEY_FILE") -}}
{{- end -}}
{{- if not $items -}}{{- fail "nats.tls.existingSecret needs nats.tls.caKey, nats.tls.certKey or both" -}}{{- end -}}
{{- $files = append $files (dict "volume" "nats-tls" "secret" $tls.existingSecret "items" $items) -}}
{{- end -}}
{{- $auth := $v.nats.auth -}}
{{- if and $auth.nkeySecret $auth.credsSecret -}}{{- fail "set one of nats.auth.nkeySecret and nats.auth.credsSecret" -}}{{- end -}}
{{- with $auth.nkeySecret -}}
{{- $files = append $files (dict "volume" "nats-nkey" "secret" . "items" (list (dict "key" $auth.nkeySecretKey "path" "nkey.seed" "env" "NATS_NKEY_SEED_FILE"))) -}}
{{- end -}}
{{- with $auth.credsSecret -}}
{{- $files = append $files (dict "volume" "nats-creds" "secret" . "items" (list (dict "key" $auth.credsSecretKey "path" "nats.creds" "env" "NATS_CREDS_FILE"))) -}}
{{- end -}}
{{- with $v.database.caSecret -}}
{{- if hasKey $v.config.extraEnv "NODE_EXTRA_CA_CERTS" -}}{{- fail "database.caSecret sets NODE_EXTRA_CA_CERTS: remove it from config.extraEnv" -}}{{- end -}}
{{- $files = append $files (dict "volume" "database-ca" "secret" . "items" (list (dict "key" $v.database.caSecretKey "path" "ca.crt" "env" "NODE_EXTRA_CA_CERTS"))) -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{/* Container env naming the mounted files (paths, not secrets). Root context. */}}
{{- define "roadmap.secretFileEnv" -}}
{{- range (include "roadmap.secretFiles" . | fromYaml).files }}
{{- $volume := .volume }}
{{- range .items }}
- name: {{ .env }}
  value: {{ printf "/etc/roadmap/%s/%s" $volume .path | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod volumes of the mounted files: only the listed keys, readable by the pod's group (0440). */}}
{{- define "roadmap.secretFileVolumes" -}}
{{- range (include "roadmap.secretFiles" . | fromYaml).files }}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret }}
    # 0440 (octal): the user and fsGroup of the pod read it.
    defaultMode: 288
    items:
      {{- range .items }}
      - key: {{ .key }}
        path: {{ .path }}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "roadmap.secretFileMounts" -}}
{{- range (include "roadmap.secretFiles" . | fromYaml).files }}
- name: {{ .volume }}
  mountPath: /etc/roadmap/{{ .volume }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
Topology spread of one component's pods (per-service context): services.<key>.topologySpreadConstraints
when set, else topologySpread.constraints, each given the component's selector labels.
*/}}
{{- define "roadmap.topologySpread" -}}
{{- $constraints := .svc.topologySpreadConstraints | default .root.Values.topologySpread.constraints -}}
{{- range $constraints }}
- {{ toYaml (omit . "labelSelector") | indent 2 | trim }}
  labelSelector:
    matchLabels:
      {{- include "roadmap.selectorLabels" (dict "root" $.root "component" (include "roadmap.component" $)) | nindent 6 }}
{{- end }}
{{- end -}}
