# IAM OIDC provider for IRSA. IAM trusts the EKS issuer through its own root CAs, so the thumbprint
# is a formality: a variable with the well-known value instead of a TLS lookup.
locals {
  oidc_issuer_url = aws_eks_cluster.this.identity[0].oidc[0].issuer
  oidc_issuer     = replace(local.oidc_issuer_url, "https://", "")
}

resource "aws_iam_openid_connect_provider" "this" {
  count = var.enable_irsa ? 1 : 0

  url             = local.oidc_issuer_url
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints
  tags            = merge(var.tags, { Name = "${var.cluster_name}-irsa" })
}
