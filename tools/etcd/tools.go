//go:build tools

// Package tools pins etcd for the Kubernetes control plane that @inferd/testkit runs in tests.
package tools

import _ "go.etcd.io/etcd/server/v3"
