package pki

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig renders a kubeconfig for kubectl and client-go: one cluster and
// one context both named clusterName, and the user AdminCommonName, with the
// CA, certificate and key embedded (a single file to copy, nothing it
// points at to lose).
func Kubeconfig(clusterName, serverURL string, caPEM, certPEM, keyPEM []byte) ([]byte, error) {
	if clusterName == "" || serverURL == "" {
		return nil, fmt.Errorf("kubeconfig: cluster name and server URL are required")
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[AdminCommonName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{
		Cluster:  clusterName,
		AuthInfo: AdminCommonName,
	}
	cfg.CurrentContext = clusterName
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %s: %w", clusterName, err)
	}
	return out, nil
}
