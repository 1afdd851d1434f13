"""One module per `pointnet-tf2` subcommand (see `pointnet_tf2.cli`)."""
