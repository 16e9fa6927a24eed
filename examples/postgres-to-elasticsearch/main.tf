# Sluice example: a Postgres table kept in an Elasticsearch index.
#   catalog (PostgreSQL pgoutput) -> search (Elasticsearch 8, index "catalog_products")
#
#   sluice provider install            # once: puts the provider in a local mirror, prints TF_CLI_CONFIG_FILE
#   export TF_CLI_CONFIG_FILE=...      # as printed
#   export SLUICE_ENDPOINT=http://127.0.0.1:8080 SLUICE_TOKEN=$(cat .sluice/token)
#   export TF_VAR_postgres_source_password=... TF_VAR_elasticsearch_api_key=...
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

resource "sluice_source_postgresql" "catalog" {
  name          = "catalog"
  host          = var.postgres_source_host
  port          = var.postgres_source_port
  database      = var.postgres_source_database
  user          = var.postgres_source_user
  password      = var.postgres_source_password
  table_include = ["public.products"]
  slot_name     = var.slot_name
  tags          = { team = "search" }
}

# One index per table, named by table_name_format and created on first sight with a mapping from
# the source column types; the primary key is the document id, deletes delete the document.
resource "sluice_destination_elasticsearch" "search" {
  name               = "search"
  url                = var.elasticsearch_url
  api_key            = var.elasticsearch_api_key
  table_name_format  = "catalog_{table}"
  number_of_replicas = var.elasticsearch_replicas
}

resource "sluice_pipeline" "catalog_to_search" {
  name           = "catalog-to-search"
  source_id      = sluice_source_postgresql.catalog.id
  destination_id = sluice_destination_elasticsearch.search.id
  tables         = ["public.products"]
  # A document Elasticsearch rejects (a value its mapping refuses) goes to the DLQ after these retries.
  delivery = {
    max_retries        = 5
    backoff_initial_ms = 500
    backoff_max_ms     = 30000
  }
}
