{{- define "nodeops-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nodeops-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 57 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 57 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 57 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "nodeops-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodeops-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nodeops-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "nodeops-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nodeops
app.kubernetes.io/component: gateway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "nodeops-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nodeops-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nodeops-gateway.adminSecretName" -}}
{{- default (printf "%s-admin-token" (include "nodeops-gateway.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{/*
The gateway config (YAML). `nodeSets` expand into one upstream per pod, addressed through the
release's headless Service, so the gateway health-checks every node on its own.
*/}}
{{- define "nodeops-gateway.config" -}}
{{- $v := .Values }}
{{- $chains := list }}
{{- if not $v.config.chains }}{{ fail "config.chains must list at least one chain" }}{{ end }}
{{- range $v.config.chains }}
{{- $c := omit . "nodeSets" "upstreams" }}
{{- $ups := list }}
{{- $pools := dict }}
{{- range .nodeSets }}
{{- $ns := . }}
{{- $_ := set $pools .pool true }}
{{- range $i := until (int .replicas) }}
{{- $pod := printf "%s-%d" $ns.release $i }}
{{- $url := printf "http://%s.%s-headless.%s.svc.cluster.local:%d" $pod $ns.release $ns.namespace (int $ns.port) }}
{{- $ups = append $ups (dict "name" $pod "url" $url "role" ($ns.role | default "full") "weight" ($ns.weight | default 1) "pool" $ns.pool) }}
{{- end }}
{{- end }}
{{- range .upstreams }}
{{- $_ := set $pools (.pool | default "default") true }}
{{- /* Provider credentials from existing Secrets, mounted by the Deployment (providerSecrets). */}}
{{- $u := omit . "urlSecret" "headersSecret" }}
{{- with .urlSecret }}{{ $_ := set $u "url_file" (printf "/var/run/secrets/nodeops-providers/%s/%s" .name .key) }}{{ end }}
{{- with .headersSecret }}{{ $_ := set $u "headers_file" (printf "/var/run/secrets/nodeops-providers/%s/%s" .name .key) }}{{ end }}
{{- $ups = append $ups $u }}
{{- end }}
{{- if not $ups }}{{ fail (printf "chain %q has no upstreams (nodeSets or upstreams)" .name) }}{{ end }}
{{- $active := .active_pool | default "default" }}
{{- if not (hasKey $pools $active) }}{{ fail (printf "chain %q: active_pool %q is not one of its pools %v" .name $active (keys $pools | sortAlpha)) }}{{ end }}
{{- $_ := set $c "upstreams" $ups }}
{{- $chains = append $chains $c }}
{{- end }}
{{- $limits := merge (dict "drain_timeout" (printf "%ds" (int $v.gracefulShutdown.drainSeconds))) $v.config.limits }}
{{- $cfg := dict
  "listen" (printf "0.0.0.0:%d" (int $v.ports.traffic))
  "admin_listen" (printf "0.0.0.0:%d" (int $v.ports.admin))
  "threads" $v.config.threads
  "admin_token_file" (ternary "/var/run/secrets/nodeops/admin-token" "" $v.adminToken.enabled)
  "limits" $limits
  "chains" $chains }}
{{- /* Rollout state lives in the replicas, not in a pod's disk: each asks its peers (every address
       of the headless admin Service) for the fleet's state at start-up and every sync interval. */}}
{{- if $v.adminToken.enabled }}
{{- $peers := list (printf "%s-admin.%s.svc.cluster.local:%d" (include "nodeops-gateway.fullname" .) .Release.Namespace (int $v.ports.admin)) }}
{{- $_ := set $cfg "rollout" (dict "peers" $peers "sync_interval" $v.rollout.syncInterval) }}
{{- end }}
{{- with $v.config.trusted_proxies }}{{ $_ := set $cfg "trusted_proxies" . }}{{ end }}
{{- with $v.config.cors }}{{ $_ := set $cfg "cors" . }}{{ end }}
{{- with $v.config.rate_limits }}{{ $_ := set $cfg "rate_limits" . }}{{ end }}
{{- with $v.config.websocket }}{{ $_ := set $cfg "websocket" . }}{{ end }}
{{- if $v.ingress.enabled }}
{{- /* The gateway pings a quiet WebSocket client every ping_interval; the ALB must not idle out first. */}}
{{- $ping := (($v.config.websocket | default dict).ping_interval | default "20s") | toString }}
{{- if gt (mulf (include "nodeops-gateway.seconds" $ping | float64) 2) (float64 $v.ingress.idleTimeoutSeconds) }}
{{- fail (printf "config.websocket.ping_interval (%s) must be at most half of ingress.idleTimeoutSeconds (%v): the ALB closes a connection idle that long, and the pings are what keep a quiet WebSocket client's open" $ping $v.ingress.idleTimeoutSeconds) }}
{{- end }}
{{- /* AWS: a target's keep-alive timeout must exceed the ALB's idle timeout, or the ALB sends
       requests on connections the gateway is closing and clients get 502s. */}}
{{- $idle := ($v.config.limits.idle_timeout | default "75s") | toString }}
{{- if le (include "nodeops-gateway.seconds" $idle | float64) (float64 $v.ingress.idleTimeoutSeconds) }}
{{- fail (printf "config.limits.idle_timeout (%s) must be longer than ingress.idleTimeoutSeconds (%v): the ALB would reuse connections the gateway is closing (502s)" $idle $v.ingress.idleTimeoutSeconds) }}
{{- end }}
{{- end }}
{{- if ne $v.apiKeys.mode "off" }}
{{- if not $v.apiKeys.existingSecret }}{{ fail (printf "apiKeys.existingSecret is required when apiKeys.mode is %s (the keys file comes from a Secret)" $v.apiKeys.mode) }}{{ end }}
{{- $_ := set $cfg "auth" (dict "mode" $v.apiKeys.mode "keys_file" "/var/run/secrets/nodeops-keys/keys.yaml") }}
{{- end }}
{{- if $v.tls.existingSecret }}
{{- $_ := set $cfg "tls" (dict "cert_file" "/var/run/secrets/nodeops-tls/tls.crt" "key_file" "/var/run/secrets/nodeops-tls/tls.key" "reload_interval" $v.tls.reloadInterval) }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* The Secrets upstreams take credentials from (urlSecret, headersSecret), sorted, comma-separated. */}}
{{- define "nodeops-gateway.providerSecrets" -}}
{{- $names := dict }}
{{- range .Values.config.chains }}
{{- range .upstreams }}
{{- with .urlSecret }}{{ $_ := set $names .name true }}{{ end }}
{{- with .headersSecret }}{{ $_ := set $names .name true }}{{ end }}
{{- end }}
{{- end }}
{{- keys $names | sortAlpha | join "," }}
{{- end }}

{{/* Seconds in a config duration ("500ms", "20s", "2m", "1h"). */}}
{{- define "nodeops-gateway.seconds" -}}
{{- $d := toString . -}}
{{- if hasSuffix "ms" $d }}{{ divf (trimSuffix "ms" $d | float64) 1000 }}
{{- else if hasSuffix "s" $d }}{{ trimSuffix "s" $d | float64 }}
{{- else if hasSuffix "m" $d }}{{ mulf (trimSuffix "m" $d | float64) 60 }}
{{- else if hasSuffix "h" $d }}{{ mulf (trimSuffix "h" $d | float64) 3600 }}
{{- else }}0{{ end -}}
{{- end }}
