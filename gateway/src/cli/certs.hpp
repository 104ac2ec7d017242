// `gatewayd certs`: a CA and tunnel certificates for development and small deployments.
//
//   gatewayd certs ca        --out DIR [--days N] [--cn NAME]                  -> DIR/ca.pem, DIR/ca.key
//   gatewayd certs edge      --ca DIR --out DIR --name NAME|--ip IP ...       -> DIR/edge.pem, DIR/edge.key
//   gatewayd certs connector --ca DIR --out DIR --tenant T [--location L]     -> DIR/connector.pem, .key
//
// Existing files are never replaced without --force; private keys are created with mode 0600.
#pragma once

namespace gw::cli {

// `argv[0]` is "certs", `argv[1]` the subcommand. Returns the process exit code: 0 done, 1 failed
// (the reason on stderr), 2 bad usage.
int command_certs(int argc, char** argv);

}  // namespace gw::cli
