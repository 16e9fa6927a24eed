# One Postgres source, four pipelines: the orders table lands in an S3 bucket as Parquet, in an
# Elasticsearch index, in a topic of another Kafka cluster (Debezium's envelope, so existing
# Debezium consumers read it unchanged) and at an HTTP endpoint as signed batches.
#
#   sluice provider install            # once: puts the provider in a local mirror, prints TF_CLI_CONFIG_FILE
#   export TF_CLI_CONFIG_FILE=...      # as printed
#   export SLUICE_ENDPOINT=http://127.0.0.1:8080 SLUICE_TOKEN=$(cat .sluice/token)
#   export TF_VAR_source_password=... TF_VAR_s3_secret_access_key=... TF_VAR_elasticsearch_password=...
#   export TF_VAR_kafka_sasl_password=... TF_VAR_webhook_signing_secret=...
#   terraform init && terraform apply
#
# test/provider/destinations.test.ts applies this file with real terraform, plans it empty, exports
# the instance and re-applies the export to an empty one.

terraform {
  required_version = ">= 1.5"
  required_providers {
    sluice = {
      source = "sluice.local/sluice/sluice"
    }
  }
}

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
}

resource "sluice_destination_s3" "lake" {
  name              = "lake"
  bucket            = var.s3_bucket
  prefix            = "cdc"
  endpoint          = var.s3_endpoint
  force_path_style  = true
  access_key_id     = var.s3_access_key_id
  secret_access_key = var.s3_secret_access_key
}

resource "sluice_destination_elasticsearch" "search" {
  name               = "search"
  url                = var.elasticsearch_url
  username           = "elastic"
  password           = var.elasticsearch_password
  number_of_replicas = 0
}

resource "sluice_destination_kafka" "events" {
  name              = "events"
  bootstrap_servers = var.kafka_bootstrap_servers
  envelope          = "debezium"
  sasl_mechanism    = "scram-sha-512"
  sasl_username     = "sluice"
  sasl_password     = var.kafka_sasl_password
}

resource "sluice_destination_webhook" "billing" {
  name           = "billing"
  url            = var.webhook_url
  format         = "ndjson"
  headers        = ["X-Team: billing"]
  signing_secret = var.webhook_signing_secret
}

locals {
  destinations = {
    lake   = sluice_destination_s3.lake.id
    search = sluice_destination_elasticsearch.search.id
    events = sluice_destination_kafka.events.id
    hook   = sluice_destination_webhook.billing.id
  }
}

resource "sluice_pipeline" "orders" {
  for_each       = local.destinations
  name           = "orders-to-${each.key}"
  source_id      = sluice_source_postgresql.shop.id
  destination_id = each.value
  tables         = ["public.orders"]
}
