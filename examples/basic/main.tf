# Sluice basic example: capture public.orders from a PostgreSQL database, mask the customer
# email, and upsert the rows into another PostgreSQL database.
#
#   sluice provider install            # once: puts the provider in a local mirror, prints TF_CLI_CONFIG_FILE
#   export TF_CLI_CONFIG_FILE=...      # as printed
#   export SLUICE_ENDPOINT=http://127.0.0.1:8080 SLUICE_TOKEN=$(cat .sluice/token)
#   export TF_VAR_source_password=... TF_VAR_destination_password=... TF_VAR_mask_salt=...
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

resource "sluice_source_postgresql" "shop" {
  name          = "shop"
  host          = var.source_host
  port          = var.source_port
  database      = var.source_database
  user          = var.source_user
  password      = var.source_password
  table_include = ["public.orders"]
  slot_name     = var.slot_name
  tags          = { team = "orders" }
}

resource "sluice_destination_postgresql" "warehouse" {
  name       = "warehouse"
  host       = var.destination_host
  port       = var.destination_port
  database   = var.destination_database
  user       = var.destination_user
  password   = var.destination_password
  schema     = "raw"
  batch_size = var.batch_size
}

resource "sluice_transform_mask_fields" "pii" {
  name     = "mask-customer-email"
  fields   = ["customer_email"]
  strategy = "hash"
  salt     = var.mask_salt
}

resource "sluice_pipeline" "orders" {
  name           = "orders-to-warehouse"
  source_id      = sluice_source_postgresql.shop.id
  destination_id = sluice_destination_postgresql.warehouse.id
  transform_ids  = [sluice_transform_mask_fields.pii.id]
  tables         = ["public.orders"]
  delivery = {
    max_retries        = 5
    backoff_initial_ms = 500
    backoff_max_ms     = 30000
  }
}
