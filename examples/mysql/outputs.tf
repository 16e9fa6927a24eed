output "mysql_source_id" {
  value = sluice_source_mysql.shop.id
}

output "mysql_destination_id" {
  value = sluice_destination_mysql.reporting.id
}

output "pipeline_ids" {
  value = {
    shop_to_analytics    = sluice_pipeline.shop_to_analytics.id
    billing_to_reporting = sluice_pipeline.billing_to_reporting.id
  }
}
