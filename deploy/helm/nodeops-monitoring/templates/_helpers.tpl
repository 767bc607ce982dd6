{{/* Chart name, overridable. */}}
{{- define "nodeops-monitoring.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "nodeops-monitoring.labels" -}}
app.kubernetes.io/name: {{ include "nodeops-monitoring.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nodeops
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.environment }}
nodeops.io/environment: {{ . }}
{{- end }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Object name from a file name: "nodes.rules.yml" -> "<name>-nodes". */}}
{{- define "nodeops-monitoring.objectName" -}}
{{- $base := base .path | trimSuffix ".rules.yml" | trimSuffix ".json" | trimPrefix "nodeops-" -}}
{{- printf "%s-%s" (include "nodeops-monitoring.name" .root) $base | trunc 63 | trimSuffix "-" -}}
{{- end -}}
