output "pipeline_id" {
  value = sluice_pipeline.orders.id
}

output "source_id" {
  value = sluice_source_postgresql.shop.id
}
