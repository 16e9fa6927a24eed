# Defaults point at the servers `sluice dev` starts (Postgres on 15432) and at an Elasticsearch on
# 19200 (SLUICE_STACK_ELASTICSEARCH=1, or `node dist/stack/cli.js start elasticsearch`).

# --- PostgreSQL source
variable "postgres_source_host" {
  type    = string
  default = "127.0.0.1"
}
variable "postgres_source_port" {
  type    = number
  default = 15432
}
variable "postgres_source_database" {
  description = "Database whose public.products table is captured (wal_level=logical, user with REPLICATION)."
  type        = string
  default     = "sluice_demo_source"
}
variable "postgres_source_user" {
  type    = string
  default = "sluice"
}
variable "postgres_source_password" {
  type      = string
  sensitive = true
}
variable "slot_name" {
  description = "Replication slot of the source; changing it replaces the source (and its pipeline)."
  type        = string
  default     = "sluice_catalog"
}

# --- Elasticsearch destination
variable "elasticsearch_url" {
  type    = string
  default = "http://127.0.0.1:19200"
}
variable "elasticsearch_api_key" {
  description = "The base64 `encoded` API key Elasticsearch returns; null for a cluster without security."
  type        = string
  sensitive   = true
  default     = null
}
variable "elasticsearch_replicas" {
  description = "Replicas of the indexes Sluice creates (0 on a single-node cluster); changing it updates the destination in place."
  type        = number
  default     = 0
}
