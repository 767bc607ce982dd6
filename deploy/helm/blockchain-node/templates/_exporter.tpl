{{/* The nodeops exporter sidecar; args: dict root, native (bool). */}}
{{- define "blockchain-node.exporterContainer" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $p := index $v.presets $v.chain }}
{{- $clients := include "blockchain-node.clients" $root | fromYaml }}
{{- $e := $v.exporter }}
- name: exporter
  image: {{ include "blockchain-node.exporterImage" $root | quote }}
  imagePullPolicy: {{ $e.image.pullPolicy }}
  {{- if .native }}
  # Native sidecar: starts before the clients, stops after them.
  restartPolicy: Always
  {{- end }}
  args:
    - exporter
    {{- range $n := (include "blockchain-node.clientNames" $root | fromYamlArray) }}
    {{- $c := index $clients $n }}
    - --target
    - {{ printf "%s:%s=%s" $c.exporterTarget $c.exporterType $c.exporterUrl | quote }}
    {{- end }}
    - --chain
    - {{ $v.chain | quote }}
    - --listen
    - {{ printf "0.0.0.0:%d" (int $e.port) | quote }}
    {{- /* Every volume of the preset (data, consensus, heimdall, ledger, accounts): each fills up
         on its own, so each gets its eth_disk_* series, labelled volume=<name>. */}}
    {{- range $p.volumes }}
    - --data-dir
    - {{ printf "%s=/volumes/%s" .name .name | quote }}
    {{- end }}
    - --interval
    - {{ $e.interval | quote }}
    - --max-lag
    - {{ $e.maxLag | default $p.maxLag | toString | quote }}
    - --max-head-age
    - {{ $e.maxHeadAge | quote }}
    - --stall-after
    - {{ $e.stallAfter | quote }}
    {{- if $e.reference.existingSecret }}
    - --reference
    - $(NODEOPS_REFERENCE_URL)
    {{- end }}
    {{- range $e.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if $e.reference.existingSecret }}
  env:
    - name: NODEOPS_REFERENCE_URL
      valueFrom:
        secretKeyRef:
          name: {{ $e.reference.existingSecret }}
          key: {{ $e.reference.key }}
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ $e.port }}
      protocol: TCP
  readinessProbe:
    httpGet: {path: /healthz, port: metrics}
    periodSeconds: 10
  livenessProbe:
    httpGet: {path: /healthz, port: metrics}
    periodSeconds: 20
    failureThreshold: 3
  securityContext:
    {{- toYaml $v.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml $e.resources | nindent 4 }}
  volumeMounts:
    {{- range $p.volumes }}
    - name: {{ .name }}
      mountPath: /volumes/{{ .name }}
      readOnly: true
    {{- end }}
{{- end }}
