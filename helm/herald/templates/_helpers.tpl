{{/* Base name of the release's objects: "herald" unless overridden. */}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "herald.controller" -}}{{ include "herald.fullname" . }}-controller{{- end -}}
{{- define "herald.speaker" -}}{{ include "herald.fullname" . }}-speaker{{- end -}}

{{/* The speakers' HMAC key; its name is fixed because the speaker's RBAC names it. */}}
{{- define "herald.heartbeatSecret" -}}herald-heartbeat{{- end -}}

{{/* The controller's leader-election Lease; its RBAC names it. */}}
{{- define "herald.controllerLease" -}}herald-controller{{- end -}}

{{- define "herald.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (list $ "controller"). */}}
{{- define "herald.selectorLabels" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: {{ include "herald.name" $top }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "herald.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
policy/v1 from Kubernetes 1.21; 1.20 serves only policy/v1beta1. Offline (`helm template`) the API
versions are helm's defaults, which always include policy/v1: `--kube-version` decides there.
*/}}
{{- define "herald.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}
