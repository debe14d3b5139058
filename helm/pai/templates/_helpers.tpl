{{/* Names and labels (Kubernetes recommended labels, app.kubernetes.io/*). */}}
{{- define "pai.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pai.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pai.gatewaySelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "pai.redisSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "pai.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Redis URL the gateways use: the chart's Redis, or redis.url. */}}
{{- define "pai.redisURL" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "pai.fullname" .) -}}
{{- else -}}
{{- required "redis.url is required when redis.enabled is false (gateway replicas share budgets in Redis)" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "pai.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "pai.fullname" .)) .Values.gateway.adminTokenSecret -}}
{{- end -}}

{{/* A restricted securityContext for every container (Pod Security Standards: restricted). */}}
{{- define "pai.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pai.serverSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{/* How agent pods reach the gateway (pai-server --kube-gateway-url). */}}
{{- define "pai.gatewayURL" -}}
{{- default (printf "http://%s-gateway.%s:%v" (include "pai.fullname" .) .Release.Namespace .Values.gateway.service.port) .Values.server.gatewayURL -}}
{{- end -}}
