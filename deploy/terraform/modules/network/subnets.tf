# Public subnets hold internet-facing load balancers and the NAT gateways (and chain nodes that opt
# into public IPs for inbound P2P); instances get no public IP unless their launch template asks.
resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.subnet_cidrs.public[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, local.cluster_tag, {
    Name                     = "${var.name}-public-${local.azs[count.index]}"
    "nodeops.io/tier"        = "public"
    "kubernetes.io/role/elb" = "1"
  })
}

# Private subnets: worker nodes and pods. Internal load balancers and Karpenter discover them by tag.
resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.subnet_cidrs.private[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, local.cluster_tag, {
    Name                              = "${var.name}-private-${local.azs[count.index]}"
    "nodeops.io/tier"                 = "private"
    "kubernetes.io/role/internal-elb" = "1"
    "karpenter.sh/discovery"          = var.cluster_name
  })
}

# Intra subnets have no route out of the VPC: the EKS control plane's cross-account ENIs live here.
resource "aws_subnet" "intra" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.subnet_cidrs.intra[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, {
    Name              = "${var.name}-intra-${local.azs[count.index]}"
    "nodeops.io/tier" = "intra"
  })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# One private route table per AZ so each can point at its own NAT gateway.
resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_route_table" "intra" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-intra" })
}

resource "aws_route_table_association" "intra" {
  count = var.az_count

  subnet_id      = aws_subnet.intra[count.index].id
  route_table_id = aws_route_table.intra.id
}
