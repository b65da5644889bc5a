/*
 * The offline provider's built-in knowledge: a few well-known domains, each a ladder of stages from
 * fundamentals to advanced topics, plus documentation sites to cite. It is a hand-written stand-in
 * for what a model would produce, not a model: small on purpose, and only as good as these lists.
 */

export type Tier = 'foundation' | 'core' | 'advanced';

export interface CatalogueConcept {
  readonly title: string;
  readonly summary: string;
  /** Study hours for an intermediate learner; scaled by level. */
  readonly hours: number;
}

export interface CatalogueStage {
  readonly tier: Tier;
  readonly title: string;
  readonly goal: string;
  readonly concepts: readonly CatalogueConcept[];
}

/** A documentation site, cited for concepts whose title or summary matches `match`. */
export interface DocSite {
  readonly match: RegExp;
  readonly title: string;
  readonly url: string;
}

export interface Domain {
  readonly key: string;
  readonly label: string;
  readonly role: string;
  /** Matched against the goal (and the intent's domain and role); the most hits wins. */
  readonly keywords: readonly RegExp[];
  readonly stages: readonly CatalogueStage[];
  /** Tried in order; the last one should match anything (`/./`). */
  readonly docs: readonly DocSite[];
}

const c = (title: string, hours: number, summary: string): CatalogueConcept => ({ title, hours, summary });
const s = (tier: Tier, title: string, goal: string, concepts: CatalogueConcept[]): CatalogueStage => ({
  tier,
  title,
  goal,
  concepts,
});

export const DOMAINS: readonly Domain[] = [
  {
    key: 'backend',
    label: 'Backend software engineering',
    role: 'Backend engineer',
    keywords: [/back[- ]?end/, /\bserver[- ]side\b/, /\bapis?\b/, /node\.?js/, /django|flask|fastapi|spring|rails|laravel|express/, /microservices?/, /full[- ]?stack/],
    stages: [
      s('foundation', 'Programming and tooling foundations', 'Write small programs confidently and use the everyday tools of a developer.', [
        c('Programming fundamentals', 12, 'Variables, control flow, functions and core data structures in one backend language such as TypeScript, Python or Go.'),
        c('Command line and Git', 5, 'Navigate a shell, run programs and keep your work under version control with branches and commits.'),
        c('How the web works: HTTP and DNS', 5, 'What happens between typing a URL and getting a response: DNS, TCP, HTTP methods, status codes and headers.'),
      ]),
      s('core', 'Building web APIs', 'Design and build an HTTP API that validates its input and protects its data.', [
        c('HTTP servers and routing', 8, 'Start a server, map routes to handlers and return JSON responses with the right status codes.'),
        c('REST API design', 6, 'Resources, verbs, pagination, versioning and consistent error bodies that clients can rely on.'),
        c('Input validation and error handling', 5, 'Reject bad input at the edge with schemas and turn failures into clear, stable error responses.'),
        c('Authentication and authorisation', 8, 'Passwords, sessions, tokens (JWT, OAuth 2.0) and checking who may do what.'),
      ]),
      s('core', 'Data and persistence', 'Store, query and evolve application data safely.', [
        c('Relational databases and SQL', 10, 'Tables, keys, joins, indexes and transactions in PostgreSQL, written as plain SQL.'),
        c('Data modelling and migrations', 6, 'Turn a domain into a schema and change it safely with versioned migrations.'),
        c('Database access from application code', 6, 'Connection pools, parameterised queries, ORMs and query builders, and avoiding N+1 queries.'),
        c('Caching with Redis', 4, 'When a cache helps, cache-aside and expiry, and keeping cached data consistent.'),
      ]),
      s('advanced', 'Production readiness', 'Ship a service that is tested, observable and deployed automatically.', [
        c('Automated testing', 8, 'Unit, integration and end-to-end tests, test databases and what is worth testing.'),
        c('Containers with Docker', 5, 'Package a service as an image, run it with its dependencies and keep images small and secure.'),
        c('Logging, metrics and tracing', 6, 'Structured logs, Prometheus metrics and distributed traces to understand a running system.'),
        c('CI/CD pipelines', 5, 'Build, test and deploy on every change with a pipeline you trust.'),
      ]),
      s('advanced', 'Distributed systems', 'Design services that scale and stay up when parts of them fail.', [
        c('Message queues and asynchronous processing', 8, 'Queues and streams (RabbitMQ, Kafka, NATS), at-least-once delivery and idempotent consumers.'),
        c('Resilience patterns', 6, 'Timeouts, retries with backoff, circuit breakers and graceful degradation.'),
        c('Scalability and performance', 7, 'Profiling, horizontal scaling, load balancing and database read replicas.'),
        c('System design fundamentals', 10, 'Reason about trade-offs in consistency, availability, latency and cost for a whole system.'),
      ]),
    ],
    docs: [
      { match: /sql|database|postgres|migration|data modelling/i, title: 'PostgreSQL documentation', url: 'https://www.postgresql.org/docs/current/' },
      { match: /http|rest|web|routing/i, title: 'MDN Web Docs: HTTP', url: 'https://developer.mozilla.org/en-US/docs/Web/HTTP' },
      { match: /auth|security|validation/i, title: 'OWASP Cheat Sheet Series', url: 'https://cheatsheetseries.owasp.org/' },
      { match: /docker|container/i, title: 'Docker documentation', url: 'https://docs.docker.com/' },
      { match: /redis|cach/i, title: 'Redis documentation', url: 'https://redis.io/docs/latest/' },
      { match: /git|command line/i, title: 'Pro Git book', url: 'https://git-scm.com/book/en/v2' },
      { match: /./, title: 'Node.js documentation', url: 'https://nodejs.org/docs/latest/api/' },
    ],
  },
  {
    key: 'frontend',
    label: 'Frontend web development',
    role: 'Frontend developer',
    keywords: [/front[- ]?end/, /\breact\b|\bvue\b|angular|svelte|next\.?js/, /\bweb (developer|development|design|apps?)\b/, /\bcss\b|\bhtml\b/, /javascript|typescript/, /\bui\b|user interface/, /full[- ]?stack/],
    stages: [
      s('foundation', 'Web foundations', 'Build and style simple, accessible pages by hand.', [
        c('Semantic HTML', 5, 'Structure pages with meaningful elements so browsers, search engines and screen readers understand them.'),
        c('CSS layout with flexbox and grid', 8, 'The box model, flexbox and grid, and layouts that adapt to any screen.'),
        c('JavaScript fundamentals', 12, 'Values, functions, objects, arrays and control flow in the language of the browser.'),
        c('Browser developer tools', 3, 'Inspect elements, debug scripts and watch network requests in the browser.'),
      ]),
      s('core', 'Modern JavaScript and the DOM', 'Make pages interactive and talk to APIs.', [
        c('DOM manipulation and events', 6, 'Select and change elements and respond to user input with event listeners.'),
        c('Asynchronous JavaScript and fetch', 6, 'Promises, async/await and calling HTTP APIs with fetch, including error handling.'),
        c('Modules, npm and build tooling', 5, 'ES modules, package management and a dev server with Vite.'),
        c('TypeScript basics', 6, 'Types, interfaces and generics that catch mistakes before the browser does.'),
      ]),
      s('core', 'Component frameworks', 'Build a single-page application from components.', [
        c('Components and props in React', 8, 'Break a UI into reusable components that render from props.'),
        c('State management', 7, 'Local state, lifting state up, context and when a store is worth it.'),
        c('Client-side routing', 4, 'Map URLs to views, nested routes and navigation in a single-page app.'),
        c('Forms and validation', 5, 'Controlled inputs, validation feedback and accessible error messages.'),
      ]),
      s('advanced', 'Quality and performance', 'Ship fast, accessible and well-tested interfaces.', [
        c('Frontend testing', 7, 'Component tests with Testing Library and end-to-end tests with Playwright.'),
        c('Web performance and Core Web Vitals', 6, 'Measure and improve loading, interactivity and layout stability.'),
        c('Accessibility in depth', 6, 'WCAG, keyboard navigation, ARIA and testing with a screen reader.'),
        c('Design systems and responsive design', 5, 'Tokens, reusable components and layouts that work from phone to desktop.'),
      ]),
      s('advanced', 'Frontend architecture', 'Scale a frontend codebase and its delivery.', [
        c('Server-side rendering and meta-frameworks', 8, 'Rendering on the server with frameworks such as Next.js, and when it pays off.'),
        c('Frontend security', 5, 'XSS, CSRF, Content Security Policy and handling tokens in the browser.'),
        c('Large codebases and monorepos', 5, 'Structuring shared code, workspaces and incremental builds across teams.'),
      ]),
    ],
    docs: [
      { match: /react|component|state|props/i, title: 'React documentation', url: 'https://react.dev/learn' },
      { match: /typescript/i, title: 'TypeScript Handbook', url: 'https://www.typescriptlang.org/docs/handbook/intro.html' },
      { match: /accessib|aria|wcag/i, title: 'W3C Web Accessibility Initiative', url: 'https://www.w3.org/WAI/fundamentals/' },
      { match: /performance|vitals/i, title: 'web.dev: Learn Performance', url: 'https://web.dev/learn/performance' },
      { match: /css|layout|responsive/i, title: 'MDN Web Docs: CSS', url: 'https://developer.mozilla.org/en-US/docs/Web/CSS' },
      { match: /./, title: 'MDN Web Docs', url: 'https://developer.mozilla.org/en-US/docs/Learn' },
    ],
  },
  {
    key: 'machine-learning',
    label: 'Machine learning',
    role: 'Machine learning engineer',
    keywords: [/machine learning|\bml\b/, /deep learning|neural net/, /\bai\b|artificial intelligence/, /\bllms?\b|large language model|\bnlp\b|computer vision/, /pytorch|tensorflow|keras/],
    stages: [
      s('foundation', 'Maths and programming foundations', 'Get fluent with the tools and maths that machine learning is built on.', [
        c('Python and NumPy', 10, 'Python for numerical work: arrays, vectorised operations and notebooks.'),
        c('Linear algebra for machine learning', 8, 'Vectors, matrices, dot products and decompositions as used by models.'),
        c('Probability and statistics', 8, 'Distributions, expectation, variance and estimating quantities from data.'),
        c('Calculus and optimisation basics', 6, 'Derivatives, gradients and gradient descent.'),
      ]),
      s('core', 'Classical machine learning', 'Train, evaluate and improve models on tabular data.', [
        c('Supervised learning', 10, 'Regression and classification with linear models, trees and ensembles in scikit-learn.'),
        c('Model evaluation and cross-validation', 6, 'Train/test splits, cross-validation, metrics and spotting overfitting.'),
        c('Feature engineering', 6, 'Encoding, scaling and building features that carry signal.'),
        c('Unsupervised learning', 6, 'Clustering and dimensionality reduction (k-means, PCA) to find structure.'),
      ]),
      s('core', 'Deep learning', 'Build and train neural networks for images and text.', [
        c('Neural networks and backpropagation', 8, 'Layers, activations, loss functions and how gradients flow.'),
        c('Training models with PyTorch', 10, 'Tensors, datasets, training loops, GPUs and checkpoints.'),
        c('Convolutional networks for vision', 7, 'Convolutions, pooling and transfer learning from pre-trained models.'),
        c('Sequence models and transformers', 10, 'Embeddings, attention and the transformer architecture.'),
      ]),
      s('advanced', 'Machine learning in production', 'Take models from a notebook to a reliable service.', [
        c('Experiment tracking and reproducibility', 5, 'Versioning data, code and models so results can be repeated.'),
        c('Model serving', 6, 'Packaging a model behind an API, batching and latency budgets.'),
        c('Monitoring and data drift', 5, 'Detecting when live data or model quality drifts from training.'),
        c('Responsible machine learning', 4, 'Bias, fairness, privacy and documenting model limits.'),
      ]),
      s('advanced', 'Modern AI systems', 'Build applications on top of large pre-trained models.', [
        c('Large language models and fine-tuning', 10, 'How LLMs are trained, prompted and adapted with fine-tuning.'),
        c('Retrieval-augmented generation', 7, 'Grounding model answers in your own documents with embeddings and search.'),
        c('Evaluating AI systems', 6, 'Benchmarks, test sets and human review for generative models.'),
      ]),
    ],
    docs: [
      { match: /pytorch|neural|deep|convolution|training/i, title: 'PyTorch tutorials', url: 'https://pytorch.org/tutorials/' },
      { match: /numpy|python/i, title: 'NumPy user guide', url: 'https://numpy.org/doc/stable/user/' },
      { match: /transformer|language model|retrieval|fine-tun/i, title: 'Hugging Face course', url: 'https://huggingface.co/learn' },
      { match: /./, title: 'scikit-learn user guide', url: 'https://scikit-learn.org/stable/user_guide.html' },
    ],
  },
  {
    key: 'data',
    label: 'Data science and analysis',
    role: 'Data analyst',
    keywords: [/data (science|scientist|analy)/, /\banalyst\b|analytics/, /pandas|jupyter/, /statistic/, /business intelligence|\bbi\b|tableau|power ?bi|dashboards?/, /\bsql\b/],
    stages: [
      s('foundation', 'Data foundations', 'Load, query and summarise data with code.', [
        c('Python for data analysis', 10, 'Python basics, notebooks and the scientific Python ecosystem.'),
        c('SQL for analysis', 8, 'SELECT, filtering, joins, aggregation and window functions on real tables.'),
        c('Descriptive statistics', 6, 'Means, medians, spread and distributions to summarise a data set.'),
      ]),
      s('core', 'Working with data', 'Turn raw data into a clean, explored data set.', [
        c('Data cleaning with pandas', 8, 'Missing values, types, duplicates, reshaping and joining data frames.'),
        c('Exploratory data analysis', 6, 'Ask questions of a data set and find patterns, outliers and relationships.'),
        c('Data visualisation', 6, 'Choosing the right chart and building clear plots with matplotlib and seaborn.'),
      ]),
      s('core', 'Statistics and insight', 'Draw conclusions from data and communicate them.', [
        c('Probability and sampling', 6, 'Random variables, sampling distributions and the central limit theorem.'),
        c('Hypothesis testing and A/B tests', 7, 'Significance, confidence intervals, power and running fair experiments.'),
        c('Regression analysis', 7, 'Linear and logistic regression for explaining and predicting outcomes.'),
        c('Communicating insights', 5, 'Dashboards, reports and telling a story with data for decision makers.'),
      ]),
      s('advanced', 'Advanced analytics', 'Automate analysis and start predicting.', [
        c('Data pipelines and ETL', 7, 'Scheduled extraction, transformation and loading into a warehouse.'),
        c('Introduction to machine learning', 8, 'Supervised models with scikit-learn and evaluating them honestly.'),
        c('Time series analysis', 6, 'Trends, seasonality and forecasting.'),
        c('Reproducible analysis', 4, 'Version control, environments and notebooks others can rerun.'),
      ]),
    ],
    docs: [
      { match: /pandas|cleaning|exploratory/i, title: 'pandas user guide', url: 'https://pandas.pydata.org/docs/user_guide/index.html' },
      { match: /sql/i, title: 'PostgreSQL tutorial', url: 'https://www.postgresql.org/docs/current/tutorial.html' },
      { match: /visuali/i, title: 'Matplotlib tutorials', url: 'https://matplotlib.org/stable/tutorials/index.html' },
      { match: /machine learning|regression/i, title: 'scikit-learn user guide', url: 'https://scikit-learn.org/stable/user_guide.html' },
      { match: /./, title: 'Kaggle Learn', url: 'https://www.kaggle.com/learn' },
    ],
  },
  {
    key: 'devops',
    label: 'DevOps and cloud engineering',
    role: 'DevOps engineer',
    keywords: [/devops|\bsre\b|site reliability/, /\bcloud\b|aws|azure|gcp|google cloud/, /kubernetes|\bk8s\b|docker|container/, /infrastructure|terraform|platform engineer/, /ci\/?cd|pipelines?/],
    stages: [
      s('foundation', 'Systems foundations', 'Be at home on a Linux machine and on a network.', [
        c('Linux and shell scripting', 10, 'Files, processes, permissions, services and automating tasks with Bash.'),
        c('Networking fundamentals', 7, 'IP, TCP, DNS, HTTP, TLS and firewalls, and debugging connectivity.'),
        c('Git and collaboration', 4, 'Branches, pull requests and reviewing changes as a team.'),
      ]),
      s('core', 'Containers and delivery', 'Package applications and deliver them automatically.', [
        c('Docker and container images', 6, 'Images, layers, registries and running multi-container apps with Compose.'),
        c('CI/CD pipelines', 6, 'Automated build, test and deploy stages with GitHub Actions or GitLab CI.'),
        c('Configuration and secrets management', 4, 'Twelve-factor configuration and keeping credentials out of code.'),
      ]),
      s('core', 'Cloud infrastructure', 'Provision and run infrastructure in the cloud, as code.', [
        c('Cloud fundamentals', 8, 'Compute, storage, networking and identity (IAM) on a major cloud provider.'),
        c('Infrastructure as code with Terraform', 8, 'Declaring infrastructure, plans, state and reusable modules.'),
        c('Kubernetes fundamentals', 10, 'Pods, deployments, services, config maps and rolling updates.'),
      ]),
      s('advanced', 'Operating in production', 'Keep systems reliable and know when they are not.', [
        c('Observability: metrics, logs and traces', 7, 'Prometheus, Grafana, structured logging and OpenTelemetry.'),
        c('SLOs and incident response', 5, 'Service level objectives, alerting on symptoms, on-call and blameless postmortems.'),
        c('Cloud security and least privilege', 5, 'IAM policies, network segmentation and scanning images and dependencies.'),
        c('Cost management', 3, 'Understanding and reducing the cloud bill.'),
      ]),
      s('advanced', 'Platform engineering', 'Build the paved road other teams deploy on.', [
        c('Helm and Kubernetes operators', 7, 'Packaging applications for Kubernetes and automating operations.'),
        c('GitOps', 5, 'Declarative delivery with Argo CD or Flux, driven from Git.'),
        c('Disaster recovery and multi-region design', 6, 'Backups, failover and recovery objectives (RPO, RTO).'),
      ]),
    ],
    docs: [
      { match: /kubernetes|helm|operator/i, title: 'Kubernetes documentation', url: 'https://kubernetes.io/docs/home/' },
      { match: /docker|container/i, title: 'Docker documentation', url: 'https://docs.docker.com/' },
      { match: /terraform|infrastructure as code/i, title: 'Terraform documentation', url: 'https://developer.hashicorp.com/terraform/docs' },
      { match: /observab|metric|slo|incident/i, title: 'Google SRE books', url: 'https://sre.google/books/' },
      { match: /git/i, title: 'Pro Git book', url: 'https://git-scm.com/book/en/v2' },
      { match: /./, title: 'AWS documentation', url: 'https://docs.aws.amazon.com/' },
    ],
  },
  {
    key: 'mobile',
    label: 'Mobile app development',
    role: 'Mobile developer',
    keywords: [/mobile/, /android|kotlin/, /\bios\b|swift(ui)?\b|iphone/, /flutter|react native/, /\bapps?\b/],
    stages: [
      s('foundation', 'Programming foundations', 'Program comfortably in a mobile language.', [
        c('Programming fundamentals in Kotlin or Swift', 12, 'Types, functions, classes, optionals and collections in a mobile language.'),
        c('Mobile platforms overview', 3, 'How iOS, Android and cross-platform toolkits differ, and choosing one.'),
        c('Development environment and Git', 4, 'Android Studio or Xcode, emulators, debugging and version control.'),
      ]),
      s('core', 'Building apps', 'Build screens users can navigate.', [
        c('Declarative UI', 8, 'Layouts and components with Jetpack Compose or SwiftUI.'),
        c('Navigation and app architecture', 6, 'Screens, navigation stacks and patterns such as MVVM.'),
        c('State and lifecycle', 5, 'How apps start, pause and resume, and keeping UI state consistent.'),
      ]),
      s('core', 'Data and services', 'Connect an app to the outside world and keep it working offline.', [
        c('Networking and REST APIs', 6, 'Calling HTTP APIs, parsing JSON and handling slow or missing networks.'),
        c('Local storage and offline support', 6, 'Databases on the device, caching and syncing.'),
        c('Authentication in mobile apps', 4, 'Sign-in flows, tokens and secure storage on the device.'),
        c('Push notifications', 3, 'Notification services, permissions and deep links.'),
      ]),
      s('advanced', 'Shipping apps', 'Release a quality app and keep it healthy.', [
        c('Testing mobile apps', 6, 'Unit tests, UI tests and testing on real devices.'),
        c('Performance and battery use', 5, 'Profiling rendering, memory and energy use.'),
        c('Publishing to app stores', 4, 'Signing, store listings, review guidelines and staged releases.'),
        c('Crash reporting and analytics', 3, 'Finding out what breaks and how the app is used.'),
      ]),
      s('advanced', 'Advanced mobile', 'Go beyond a single platform and a single market.', [
        c('Cross-platform development', 8, 'Flutter or React Native, and when native code is still needed.'),
        c('Accessibility and internationalisation', 4, 'Screen readers, dynamic type and translating an app.'),
        c('Mobile security', 4, 'Protecting data on the device and in transit, and hardening against tampering.'),
      ]),
    ],
    docs: [
      { match: /kotlin|android|compose/i, title: 'Android Developers: Guides', url: 'https://developer.android.com/guide' },
      { match: /swift|ios/i, title: 'Swift documentation', url: 'https://www.swift.org/documentation/' },
      { match: /flutter|cross-platform/i, title: 'Flutter documentation', url: 'https://docs.flutter.dev/' },
      { match: /./, title: 'Apple Developer Documentation', url: 'https://developer.apple.com/documentation/' },
    ],
  },
  {
    key: 'security',
    label: 'Cybersecurity',
    role: 'Security engineer',
    keywords: [/secur/, /cyber/, /pen(etration)? ?test|ethical hack|red team|blue team/, /\bsoc\b|threat|malware|forensic/, /appsec|owasp/],
    stages: [
      s('foundation', 'Security foundations', 'Understand the systems you will defend and the principles of defending them.', [
        c('Networking for security', 8, 'TCP/IP, ports, DNS, TLS and reading packet captures with Wireshark.'),
        c('Operating systems and Linux', 8, 'Users, permissions, processes and logs on Linux and Windows.'),
        c('Core security principles', 5, 'Confidentiality, integrity, availability, least privilege and defence in depth.'),
        c('Scripting with Python', 6, 'Automating checks and parsing logs with small scripts.'),
      ]),
      s('core', 'Application security', 'Find and fix the most common vulnerabilities in software.', [
        c('The OWASP Top 10', 8, 'Injection, broken access control, misconfiguration and the other most common web risks.'),
        c('Authentication, sessions and cryptography basics', 7, 'Hashing passwords, encryption, TLS and secure session handling.'),
        c('Secure coding and code review', 6, 'Spotting vulnerable patterns and fixing them before release.'),
      ]),
      s('core', 'Defensive operations', 'Detect attacks and respond to them.', [
        c('Logging and detection', 7, 'Collecting logs, SIEM queries and writing detection rules.'),
        c('Vulnerability management', 5, 'Scanning, prioritising by risk and patching.'),
        c('Incident response', 6, 'Preparation, containment, eradication, recovery and lessons learned.'),
      ]),
      s('advanced', 'Offensive security', 'Think like an attacker, legally, in labs.', [
        c('Penetration testing methodology', 8, 'Scoping, reconnaissance, exploitation and reporting within rules of engagement.'),
        c('Web exploitation in labs', 8, 'Practising SQL injection, XSS and SSRF on deliberately vulnerable apps.'),
        c('Cloud security', 6, 'IAM misconfigurations, exposed storage and securing cloud accounts.'),
      ]),
      s('advanced', 'Security architecture', 'Design systems that stay secure as they grow.', [
        c('Threat modelling', 5, 'STRIDE, data-flow diagrams and prioritising mitigations.'),
        c('Zero-trust architecture', 5, 'Identity-based access, segmentation and continuous verification.'),
        c('Malware analysis basics', 7, 'Static and dynamic analysis of suspicious files in a sandbox.'),
      ]),
    ],
    docs: [
      { match: /owasp|web|secure coding|authentication|cryptograph/i, title: 'OWASP Cheat Sheet Series', url: 'https://cheatsheetseries.owasp.org/' },
      { match: /network|wireshark/i, title: 'Wireshark User’s Guide', url: 'https://www.wireshark.org/docs/wsug_html_chunked/' },
      { match: /python|scripting/i, title: 'The Python Tutorial', url: 'https://docs.python.org/3/tutorial/' },
      { match: /./, title: 'NIST Cybersecurity Framework', url: 'https://www.nist.gov/cyberframework' },
    ],
  },
];

/** Stages for goals outside the catalogue, built from the goal's own words (see `genericDomain`). */
export function genericStages(topic: string, words: readonly string[]): CatalogueStage[] {
  const T = topic;
  const keywordConcepts = words.slice(0, 3).map((w) =>
    c(`${w.charAt(0).toUpperCase()}${w.slice(1)} essentials`, 6, `The essential ideas and techniques of ${w} as they apply to ${T}, practised on small exercises.`),
  );
  while (keywordConcepts.length < 3) {
    keywordConcepts.push(
      keywordConcepts.length === 0
        ? c(`Fundamental techniques of ${T}`, 6, `The handful of techniques everything else in ${T} builds on, practised until they feel routine.`)
        : keywordConcepts.length === 1
          ? c(`Deliberate practice for ${T}`, 5, `Short, focused practice sessions on the weakest parts of your ${T}, with a way to notice improvement.`)
          : c(`Quality standards in ${T}`, 4, `What good looks like in ${T} and how to judge your own results against it.`),
    );
  }
  return [
    s('foundation', `Getting started with ${T}`, `Understand what ${T} involves and set yourself up to practise it.`, [
      c(`What ${T} involves`, 3, `An overview of ${T}: what it takes, what good results look like and how people usually learn it.`),
      c(`Tools and setup for ${T}`, 3, `The tools, materials or environment you need for ${T}, and how to prepare them.`),
      c(`Key terms in ${T}`, 3, `The vocabulary practitioners of ${T} use, so guides and feedback make sense.`),
    ]),
    s('core', `Core skills for ${T}`, `Build the core skills of ${T} through regular practice.`, keywordConcepts),
    s('core', `Projects in ${T}`, `Use what you learned on complete, realistic projects.`, [
      c(`A first complete ${T} project`, 8, `Plan and finish a small but complete piece of work in ${T}, from start to end.`),
      c(`Common mistakes in ${T}`, 4, `The mistakes beginners make in ${T}, how to recognise them and how to fix them.`),
      c(`Getting feedback on your ${T}`, 3, `Finding a community, mentor or reference to compare your ${T} against and learn from.`),
    ]),
    s('advanced', `Going further with ${T}`, `Deepen your ${T} and develop your own approach.`, [
      c(`Advanced ${T} techniques`, 8, `Techniques experienced practitioners of ${T} use once the basics are reliable.`),
      c(`Troubleshooting ${T}`, 5, `Diagnosing why a result in ${T} went wrong and adjusting the next attempt.`),
      c(`Developing your own approach to ${T}`, 5, `Experimenting with variations and building a personal style or method in ${T}.`),
    ]),
    s('advanced', `Sharing ${T}`, `Consolidate your ${T} by teaching and contributing.`, [
      c(`Teaching ${T} to others`, 4, `Explaining ${T} to someone else, which exposes and fills gaps in your own understanding.`),
      c(`Building a ${T} portfolio`, 5, `Documenting your best ${T} work so others can see what you can do.`),
      c(`Keeping up with ${T}`, 2, `Sources, communities and habits that keep your ${T} improving after this roadmap.`),
    ]),
  ];
}
