{{/* Names, labels and the links between the parts, shared by every template. */}}

{{- define "inferd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* inferd.name: <fullname>-<component>. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "inferd.name" -}}
{{- printf "%s-%s" (include "inferd.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "inferd.selectorLabels" -}}
app.kubernetes.io/name: inferd
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "inferd.labels" -}}
{{ include "inferd.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "inferd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* NATS URL every service dials: the chart's NATS, or the external one. */}}
{{- define "inferd.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- $name := include "inferd.name" (dict "root" . "component" "nats") -}}
{{- if gt (int .Values.nats.replicas) 1 -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $urls = append $urls (printf "nats://%s-%d.%s-headless:4222" $name $i $name) -}}
{{- end -}}
{{- join "," $urls -}}
{{- else -}}
{{- printf "nats://%s:4222" $name -}}
{{- end -}}
{{- else -}}
{{- .Values.nats.external.url -}}
{{- end -}}
{{- end -}}

{{/*
Replicas of inferd's streams and buckets (every service's `streamReplicas`): the in-chart cluster
size capped at 3 (a 5-node cluster still keeps R3 streams: more copies cost writes, not safety
inferd needs), or nats.external.streamReplicas.
*/}}
{{- define "inferd.streamReplicas" -}}
{{- if .Values.nats.enabled -}}{{ min 3 (int .Values.nats.replicas) }}{{- else -}}{{ int (.Values.nats.external.streamReplicas | default 1) }}{{- end -}}
{{- end -}}

{{/* Name of the model-sim Deployment, which is also its pool's name for the deployer and autoscaler. */}}
{{- define "inferd.simPool" -}}
{{- include "inferd.name" (dict "root" . "component" "model-sim") -}}
{{- end -}}

{{- define "inferd.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:6379" (include "inferd.name" (dict "root" . "component" "redis")) -}}
{{- else -}}
{{- .Values.redis.external.url -}}
{{- end -}}
{{- end -}}

{{/* The scorer's links (JSON): its own Deployment's config, or the embedded scorer's file in the gateway. */}}
{{- define "inferd.scorerLinks" -}}
{{- toJson (dict
  "natsUrl" (include "inferd.natsUrl" .)
  "subjectPrefix" .Values.global.subjectPrefix
  "redisUrl" (include "inferd.redisUrl" .)
  "redisClusterNodes" (include "inferd.redisClusterNodes" . | fromJsonArray)
  "logLevel" .Values.global.logLevel) -}}
{{- end -}}

{{/* Redis Cluster seeds (host:port list), empty in standalone mode. */}}
{{- define "inferd.redisClusterNodes" -}}
{{- if and .Values.redis.enabled (eq .Values.redis.mode "cluster") -}}
{{- $name := include "inferd.name" (dict "root" . "component" "redis") -}}
{{- $nodes := list -}}
{{- range $i := until (int .Values.redis.cluster.nodes) -}}
{{- $nodes = append $nodes (printf "%s-%d.%s-headless:6379" $name $i $name) -}}
{{- end -}}
{{- toJson $nodes -}}
{{- else if not .Values.redis.enabled -}}
{{- toJson .Values.redis.external.clusterNodes -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/*
Env vars that carry secrets into a service: the NATS (and Redis) URL from a Secret, named as the
service's config convention INFERD_<SERVICE>_<KEY> reads them. (dict "root" $ "env" "GATEWAY" "redis" false)
*/}}
{{- define "inferd.secretEnv" -}}
{{- $v := .root.Values -}}
{{- if and (not $v.nats.enabled) $v.nats.external.urlSecret.name }}
- name: INFERD_{{ .env }}_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.nats.external.urlSecret.name }}
      key: {{ $v.nats.external.urlSecret.key }}
{{- end }}
{{- if and .redis (not $v.redis.enabled) $v.redis.external.urlSecret.name }}
- name: INFERD_{{ .env }}_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.external.urlSecret.name }}
      key: {{ $v.redis.external.urlSecret.key }}
{{- end }}
{{- end -}}

{{/*
One inferd service: ConfigMap (its config file, rendered from values with the README's keys),
Deployment and PodDisruptionBudget. Arguments (dict):
  root       the chart context ($)
  component  name (gateway, scorer, kv-index, autoscaler, deployer)
  command    the `inferd` subcommand
  env        the service's env prefix (GATEWAY, SCORER, KV_INDEX, ...)
  values     the service's values
  config     the chart's links (dict), overridden by values.config
  ports      list of (dict "name" "port") the container serves; the first is /healthz and /readyz
  redis      true when the service talks to Redis
  serviceAccount  name of its ServiceAccount (optional)
  extraFiles dict file name -> content added to the ConfigMap (optional)
  scorerEnv  true when the pod also runs the scorer (gateway with scorer.embedded): its secret env too
*/}}
{{- define "inferd.service" -}}
{{- $root := .root -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- $name := include "inferd.name" $ctx -}}
{{- /* Every service creates streams or buckets, so every one gets the same replica count. */ -}}
{{- $links := merge (dict "streamReplicas" (include "inferd.streamReplicas" $root | int)) .config -}}
{{- $config := merge (deepCopy (.values.config | default dict)) $links -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}
  labels:
    {{- include "inferd.labels" $ctx | nindent 4 }}
data:
  config.yaml: |
    {{- toYaml $config | nindent 4 }}
  {{- range $file, $content := (.extraFiles | default dict) }}
  {{ $file }}: |
    {{- $content | nindent 4 }}
  {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "inferd.labels" $ctx | nindent 4 }}
spec:
  {{- if not (and (eq .component "gateway") .values.hpa.enabled) }}
  replicas: {{ .values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "inferd.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "inferd.labels" $ctx | nindent 8 }}
      annotations:
        {{- /* Files beside config.yaml (a picker config, the embedded scorer's) roll the pods too. */}}
        checksum/config: {{ if .extraFiles }}{{ toYaml (list $config .extraFiles) | sha256sum }}{{ else }}{{ toYaml $config | sha256sum }}{{ end }}
        {{- with .values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with .serviceAccount }}
      serviceAccountName: {{ . }}
      {{- else }}
      automountServiceAccountToken: false
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .component }}
          image: {{ include "inferd.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .command | quote }}, "--config", "/etc/inferd/config.yaml"]
          env:
            - name: NODE_ENV
              value: production
            {{- include "inferd.secretEnv" (dict "root" $root "env" .env "redis" .redis) | nindent 12 }}
            {{- if .scorerEnv }}
            {{- include "inferd.secretEnv" (dict "root" $root "env" "SCORER" "redis" true) | nindent 12 }}
            {{- end }}
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
            {{- end }}
          readinessProbe:
            httpGet: { path: /readyz, port: {{ (first .ports).name }} }
            periodSeconds: 5
            failureThreshold: 3
          livenessProbe:
            httpGet: { path: /healthz, port: {{ (first .ports).name }} }
            periodSeconds: 10
            failureThreshold: 6
          startupProbe:
            httpGet: { path: /healthz, port: {{ (first .ports).name }} }
            periodSeconds: 2
            failureThreshold: 60
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/inferd
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: {{ $name }}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- with .values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- if .values.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "inferd.labels" $ctx | nindent 4 }}
spec:
  minAvailable: {{ .values.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "inferd.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end -}}
