# The gateway's public edge: a WAFv2 web ACL for the ALB that the AWS Load Balancer Controller
# creates from the gateway's Ingress. The controller associates it (Ingress annotation
# alb.ingress.kubernetes.io/wafv2-acl-arn, fed from output helm.waf_acl_arn by scripts/deploy.sh).
# Rules: a per-client-IP rate limit (JSON-RPC is cheap to send and costly to serve), then AWS's
# IP reputation list. Body-inspecting managed rule sets are left out: they block ordinary
# JSON-RPC batches (SizeRestrictions_BODY at 8 KB).
resource "aws_wafv2_web_acl" "gateway" {
  count = var.gateway_edge.waf_enabled ? 1 : 0

  name        = "${var.cluster_name}-gateway"
  description = "NodeOps gateway ALB: per-IP rate limit and IP reputation"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit                 = var.gateway_edge.rate_limit_per_5m
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-ip-reputation"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.cluster_name}-gateway"
    sampled_requests_enabled   = true
  }

  tags = local.tags
}
