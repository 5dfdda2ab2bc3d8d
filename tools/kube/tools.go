//go:build tools

// Package tools pins the Kubernetes control-plane commands that @inferd/testkit runs in tests.
// Built by scripts/build-kube-tools.sh; nothing inferd ships is Go.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
