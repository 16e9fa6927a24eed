# Defaults point at servers on this machine; the secrets have none.

variable "source_host" {
  type    = string
  default = "127.0.0.1"
}
variable "source_port" {
  type    = number
  default = 15432
}
variable "source_database" {
  type    = string
  default = "sluice_demo_source"
}
variable "source_user" {
  type    = string
  default = "sluice"
}
variable "source_password" {
  type      = string
  sensitive = true
}
variable "slot_name" {
  type    = string
  default = "sluice_orders_fanout"
}

variable "s3_bucket" {
  type    = string
  default = "sluice-lake"
}
variable "s3_endpoint" {
  description = "S3-compatible endpoint; empty for AWS S3 itself."
  type        = string
  default     = "http://127.0.0.1:9000"
}
variable "s3_access_key_id" {
  type      = string
  sensitive = true
}
variable "s3_secret_access_key" {
  type      = string
  sensitive = true
}

variable "elasticsearch_url" {
  type    = string
  default = "http://127.0.0.1:9200"
}
variable "elasticsearch_password" {
  type      = string
  sensitive = true
}

variable "kafka_bootstrap_servers" {
  type    = list(string)
  default = ["127.0.0.1:9192"]
}
variable "kafka_sasl_password" {
  type      = string
  sensitive = true
}

variable "webhook_url" {
  type    = string
  default = "http://127.0.0.1:8099/cdc"
}
variable "webhook_signing_secret" {
  type      = string
  sensitive = true
}
