{{- define "agent-host.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "agent-host.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "agent-host.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agent-host.serviceAccountName" -}}
{{- default (include "agent-host.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The username the AI votes as: its ServiceAccount's. */}}
{{- define "agent-host.identity" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "agent-host.serviceAccountName" .) -}}
{{- end -}}

{{- define "agent-host.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Secret names: an existing one, else the chart's. */}}
{{- define "agent-host.secret" -}}
{{- $s := index .root.Values.secrets .name -}}
{{- default (printf "%s-%s" (include "agent-host.fullname" .root) .name) $s.existingSecret -}}
{{- end -}}

{{- define "agent-host.modelSecret" -}}
{{- default (printf "%s-model" (include "agent-host.fullname" .)) .Values.model.existingSecret -}}
{{- end -}}

{{/* Server command-line arguments, shared by stdio children and HTTP Deployments. */}}
{{- define "agent-host.serverArgs" -}}
{{- $v := .root.Values -}}
{{- if eq .name "kubernetes" -}}
["--read-only", "--identity", {{ include "agent-host.identity" .root | quote }}{{ if $v.approval.namespaces }}, "--namespaces", {{ join "," $v.approval.namespaces | quote }}{{ end }}]
{{- else if eq .name "github" -}}
[{{ if $v.rollback.enabled }}"--allow-writes"{{ else }}"--read-only"{{ end }}{{ if $v.servers.github.repos }}, "--repos", {{ join "," $v.servers.github.repos | quote }}{{ end }}]
{{- else if eq .name "konnect" -}}
["--read-only"]
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* Environment variables (names) each server needs from the host. */}}
{{- define "agent-host.serverPassEnv" -}}
{{- if eq .name "kubernetes" -}}["K8S_*"]
{{- else if eq .name "github" -}}["GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_API_URL"]
{{- else if eq .name "konnect" -}}["KONNECT_*"]
{{- else -}}["SLACK_*"]
{{- end -}}
{{- end -}}

{{- define "agent-host.enabledServers" -}}
{{- $out := list -}}
{{- range $n := list "kubernetes" "github" "konnect" "slack" -}}
{{- if (index $.Values.servers $n).enabled -}}{{- $out = append $out $n -}}{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{- define "agent-host.port" -}}
{{- if eq . "kubernetes" -}}8081{{- else if eq . "github" -}}8082{{- else if eq . "konnect" -}}8083{{- else -}}8084{{- end -}}
{{- end -}}

{{/* envFrom and env a server needs (its upstream credentials and settings). */}}
{{- define "agent-host.serverEnvFrom" -}}
{{- if ne .name "kubernetes" }}
- secretRef:
    name: {{ include "agent-host.secret" (dict "root" .root "name" .name) }}
    optional: true
{{- end }}
{{- end -}}

{{- define "agent-host.serverEnv" -}}
{{- $v := .root.Values.servers -}}
{{- if and (eq .name "github") $v.github.apiUrl }}
- {name: GITHUB_API_URL, value: {{ $v.github.apiUrl | quote }}}
{{- else if eq .name "konnect" }}
- {name: KONNECT_REGION, value: {{ $v.konnect.region | quote }}}
{{- with $v.konnect.controlPlanes }}
- {name: KONNECT_CONTROL_PLANES, value: {{ join "," . | quote }}}
{{- end }}
{{- else if and (eq .name "slack") $v.slack.postTo }}
- {name: SLACK_MCP_ADD_MESSAGE_TOOL, value: {{ $v.slack.postTo | quote }}}
{{- end }}
{{- end -}}
