{{/*
Names. The full name is the release name (e.g. `ethereum-blue`), so pod DNS names are predictable
for the gateway: <fullname>-<ordinal>.<fullname>-headless.<namespace>.svc.
*/}}
{{- define "blockchain-node.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blockchain-node.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "blockchain-node.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blockchain-node.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "blockchain-node.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "blockchain-node.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nodeops
nodeops.io/chain: {{ .Values.chain }}
nodeops.io/pool: {{ .Values.pool }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "blockchain-node.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blockchain-node.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The selected preset, as YAML (use with fromYaml). */}}
{{- define "blockchain-node.preset" -}}
{{- $p := index .Values.presets .Values.chain }}
{{- if not $p }}{{ fail (printf "chain %q has no preset" .Values.chain) }}{{ end }}
{{- toYaml $p }}
{{- end }}

{{/* Names of the client containers the preset runs, in start order, as a YAML list. */}}
{{- define "blockchain-node.clientNames" -}}
{{- $p := index .Values.presets .Values.chain }}
{{- if eq .Values.chain "ethereum" }}
{{- list $p.executionClient $p.consensusClient | toYaml }}
{{- else if eq .Values.chain "polygon" }}
{{- list "heimdall" "bor" | toYaml }}
{{- else }}
{{- list "agave" | toYaml }}
{{- end }}
{{- end }}

{{/* The clients of the preset: a YAML map name -> client spec. */}}
{{- define "blockchain-node.clients" -}}
{{- $p := index .Values.presets .Values.chain }}
{{- $out := dict }}
{{- range (include "blockchain-node.clientNames" . | fromYamlArray) }}
{{- $c := index $p.clients . }}
{{- if not $c }}{{ fail (printf "presets.%s.clients has no client %q" $.Values.chain .) }}{{ end }}
{{- $_ := set $out . $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Render a string with tpl; args: (list $root $string). */}}
{{- define "blockchain-node.tpl" -}}
{{- $root := index . 0 }}
{{- $p := index $root.Values.presets $root.Values.chain }}
{{- $ctx := merge (dict "network" $p.network "chain" $root.Values.chain) $root }}
{{- tpl (index . 1 | toString) $ctx }}
{{- end }}

{{/* P2P ports of the preset: a list of {port, protocols, names}, one entry per distinct number. */}}
{{- define "blockchain-node.p2pPorts" -}}
{{- $clients := include "blockchain-node.clients" . | fromYaml }}
{{- $byPort := dict }}
{{- $order := list }}
{{- range $name := (include "blockchain-node.clientNames" . | fromYamlArray) }}
{{- range (index $clients $name).ports }}
{{- if eq .role "p2p" }}
{{- $k := toString .port }}
{{- if not (hasKey $byPort $k) }}
{{- $_ := set $byPort $k (list) }}
{{- $order = append $order $k }}
{{- end }}
{{- $_ := set $byPort $k (append (index $byPort $k) (dict "name" .name "protocol" .protocol)) }}
{{- end }}
{{- end }}
{{- end }}
{{- $out := list }}
{{- range $i, $k := $order }}
{{- $out = append $out (dict "port" (atoi $k) "index" $i "entries" (index $byPort $k)) }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* The JWT Secret name (ethereum). */}}
{{- define "blockchain-node.jwtSecretName" -}}
{{- $jwt := .Values.presets.ethereum.jwt }}
{{- default (printf "%s-jwt" (include "blockchain-node.fullname" .)) $jwt.existingSecret }}
{{- end }}

{{- define "blockchain-node.exporterImage" -}}
{{- printf "%s:%s" .Values.exporter.image.repository .Values.exporter.image.tag }}
{{- end }}
