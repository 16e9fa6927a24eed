# Defaults point at the servers `sluice dev` starts: Postgres on 15432 and, with
# SLUICE_STACK_MARIADB=1 (or `sluice stack start mariadb`), MariaDB on 13306; user sluice on both.

# --- MariaDB / MySQL source
variable "mysql_source_host" {
  type    = string
  default = "127.0.0.1"
}
variable "mysql_source_port" {
  type    = number
  default = 13306
}
variable "mysql_source_database" {
  description = "Database whose `orders` table is captured."
  type        = string
  default     = "shop"
}
variable "mysql_source_user" {
  description = "Needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT."
  type        = string
  default     = "sluice"
}
variable "mysql_source_password" {
  type      = string
  sensitive = true
}
variable "mysql_server_id" {
  description = "Replica server id of the binlog connection; unique among the server's replicas."
  type        = number
  default     = 5401
}

# --- PostgreSQL destination of the MariaDB rows
variable "postgres_destination_host" {
  type    = string
  default = "127.0.0.1"
}
variable "postgres_destination_port" {
  type    = number
  default = 15432
}
variable "postgres_destination_database" {
  type    = string
  default = "sluice_demo_dest"
}
variable "postgres_destination_user" {
  type    = string
  default = "sluice"
}
variable "postgres_destination_password" {
  type      = string
  sensitive = true
}

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
  description = "Database whose public.invoices table is captured (wal_level=logical, user with REPLICATION)."
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
  description = "Replication slot of the PostgreSQL source; changing it replaces the source (and its pipeline)."
  type        = string
  default     = "sluice_billing"
}

# --- MariaDB / MySQL destination of the PostgreSQL rows
variable "mysql_destination_host" {
  type    = string
  default = "127.0.0.1"
}
variable "mysql_destination_port" {
  type    = number
  default = 13306
}
variable "mysql_destination_database" {
  type    = string
  default = "reporting"
}
variable "mysql_destination_user" {
  type    = string
  default = "sluice"
}
variable "mysql_destination_password" {
  type      = string
  sensitive = true
}
variable "mysql_batch_size" {
  description = "Rows per write into MariaDB; changing it updates the destination in place."
  type        = number
  default     = 500
}
