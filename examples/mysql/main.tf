# Sluice MySQL/MariaDB example: two pipelines in opposite directions.
#   shop (MariaDB binlog)        -> analytics (PostgreSQL, schema "shop")
#   billing (PostgreSQL pgoutput) -> reporting (MariaDB database)
#
#   sluice provider install            # once: puts the provider in a local mirror, prints TF_CLI_CONFIG_FILE
#   export TF_CLI_CONFIG_FILE=...      # as printed
#   export SLUICE_ENDPOINT=http://127.0.0.1:8080 SLUICE_TOKEN=$(cat .sluice/token)
#   export TF_VAR_mysql_source_password=... TF_VAR_postgres_destination_password=... \
#          TF_VAR_postgres_source_password=... TF_VAR_mysql_destination_password=...
#   terraform init && terraform apply

terraform {
  required_version = ">= 1.5"
  required_providers {
    sluice = {
      source = "sluice.local/sluice/sluice"
    }
  }
}

# endpoint and token default to $SLUICE_ENDPOINT and $SLUICE_TOKEN.
provider "sluice" {}

# Reads the binlog of a MariaDB/MySQL server (binlog_format=ROW, binlog_row_image=FULL; the local
# stack's MariaDB is configured so). server_id must differ from every other replica of that server.
resource "sluice_source_mysql" "shop" {
  name             = "shop-mariadb"
  host             = var.mysql_source_host
  port             = var.mysql_source_port
  user             = var.mysql_source_user
  password         = var.mysql_source_password
  database_include = [var.mysql_source_database]
  table_include    = ["${var.mysql_source_database}.orders"]
  server_id        = var.mysql_server_id
  tags             = { team = "shop" }
}

resource "sluice_destination_postgresql" "analytics" {
  name     = "analytics"
  host     = var.postgres_destination_host
  port     = var.postgres_destination_port
  database = var.postgres_destination_database
  user     = var.postgres_destination_user
  password = var.postgres_destination_password
  schema   = "shop"
}

resource "sluice_source_postgresql" "billing" {
  name          = "billing"
  host          = var.postgres_source_host
  port          = var.postgres_source_port
  database      = var.postgres_source_database
  user          = var.postgres_source_user
  password      = var.postgres_source_password
  table_include = ["public.invoices"]
  slot_name     = var.slot_name
  tags          = { team = "billing" }
}

# The database is created on first write if it does not exist.
resource "sluice_destination_mysql" "reporting" {
  name       = "reporting"
  host       = var.mysql_destination_host
  port       = var.mysql_destination_port
  database   = var.mysql_destination_database
  user       = var.mysql_destination_user
  password   = var.mysql_destination_password
  batch_size = var.mysql_batch_size
}

resource "sluice_pipeline" "shop_to_analytics" {
  name           = "shop-to-analytics"
  source_id      = sluice_source_mysql.shop.id
  destination_id = sluice_destination_postgresql.analytics.id
  # MySQL has no schemas: a table is named `<database>.<table>`.
  tables = ["${var.mysql_source_database}.orders"]
}

resource "sluice_pipeline" "billing_to_reporting" {
  name           = "billing-to-reporting"
  source_id      = sluice_source_postgresql.billing.id
  destination_id = sluice_destination_mysql.reporting.id
  tables         = ["public.invoices"]
  delivery = {
    max_retries        = 5
    backoff_initial_ms = 500
    backoff_max_ms     = 30000
  }
}
