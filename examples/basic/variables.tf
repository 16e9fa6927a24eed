# Defaults point at the demo databases `sluice dev` starts (its Postgres listens on 15432).

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
  description = "Replication slot of the source; changing it replaces the source (and the pipeline)."
  type        = string
  default     = "sluice_orders"
}

variable "destination_host" {
  type    = string
  default = "127.0.0.1"
}
variable "destination_port" {
  type    = number
  default = 15432
}
variable "destination_database" {
  type    = string
  default = "sluice_demo_dest"
}
variable "destination_user" {
  type    = string
  default = "sluice"
}
variable "destination_password" {
  type      = string
  sensitive = true
}
variable "batch_size" {
  type    = number
  default = 500
}

variable "mask_salt" {
  description = "Salt of the email hash. Write-only: sent to Sluice, never read back."
  type        = string
  sensitive   = true
}
