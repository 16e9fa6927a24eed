output "source_id" {
  value = sluice_source_postgresql.catalog.id
}

output "destination_id" {
  value = sluice_destination_elasticsearch.search.id
}

output "pipeline_id" {
  value = sluice_pipeline.catalog_to_search.id
}
