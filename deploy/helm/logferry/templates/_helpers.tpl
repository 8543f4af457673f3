{{/* The chart's name. */}}
{{- define "logferry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fullname names every object. A release named like the chart ("logferry")
gives "logferry", the names of the kustomize base.
*/}}
{{- define "logferry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "logferry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: fixed for the life of a release (a selector is immutable). */}}
{{- define "logferry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logferry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "logferry.labels" -}}
{{ include "logferry.selectorLabels" . }}
app.kubernetes.io/component: agent
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "logferry.chart" . }}
{{- end }}

{{- define "logferry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "logferry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The agent configuration: .Values.config, with the keys tied to the pod spec set
from the values they depend on, the agent's own pods excluded, and .Values.sinks
appended to config.sinks.
*/}}
{{- define "logferry.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $sources := deepCopy (get $cfg "sources" | default dict) }}
{{- $_ := set $sources "docker_dir" (.Values.dockerContainersPath | default "") }}
{{- $own := printf "/var/log/pods/${POD_NAMESPACE}_%s-*/*/*" (include "logferry.fullname" .) }}
{{- $_ := set $sources "exclude" (prepend (get $sources "exclude" | default list) $own) }}
{{- $_ := set $cfg "sources" $sources }}
{{- $_ := set $cfg "data_dir" "/var/lib/logferry" }}
{{- $http := deepCopy (get $cfg "http" | default dict) }}
{{- $_ := set $http "addr" (printf ":%d" (int .Values.metrics.port)) }}
{{- $_ := set $cfg "http" $http }}
{{- $sinks := concat (get $cfg "sinks" | default list) (.Values.sinks | default list) }}
{{- if not $sinks }}
{{- fail "the agent needs at least one sink: set sinks (or config.sinks)" }}
{{- end }}
{{- $_ := set $cfg "sinks" $sinks }}
{{- $kube := get $cfg "kubernetes" | default dict }}
{{- if and (get $kube "namespace_labels") (not .Values.namespaceLabels) }}
{{- fail "config.kubernetes.namespace_labels needs namespaceLabels=true (the ClusterRole rule to read namespaces)" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}
