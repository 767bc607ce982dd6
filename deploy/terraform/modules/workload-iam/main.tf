# IAM for NodeOps workloads. Least privilege by construction: the snapshot-restore job reads one
# bucket, Loki uses its own two buckets, the Cluster Autoscaler resizes only this cluster's node
# groups; the gateway and the exporter run without any AWS identity.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition       = data.aws_partition.current.partition
  snapshot        = var.snapshot_restore
  snapshot_on     = var.snapshot_restore.enabled
  bucket_arn      = "arn:${local.partition}:s3:::${local.snapshot.bucket_name}"
  service_account = [for sa in local.snapshot.service_accounts : "system:serviceaccount:${sa.namespace}:${sa.name}"]
  whole_bucket    = contains(local.snapshot.prefixes, "")
}
