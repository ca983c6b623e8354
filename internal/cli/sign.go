package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/remote"
	"github.com/drover/drover/image/remote/auth"
	"github.com/drover/drover/image/signature"
)

// Signing happens in the CLI's own process, as with cosign: the private key never
// leaves it, and signatures go straight to the image's registry (the daemon keeps no
// signatures; it reads them from the registry when it pulls under a trust policy).

func keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage signing keys", Args: cobra.NoArgs}
	var prefix string
	gen := &cobra.Command{
		Use:   "generate [OPTIONS]",
		Short: "Make an ECDSA P-256 key pair for drover sign (PREFIX.key, PREFIX.pub)",
		Long: `Make an ECDSA P-256 key pair: PREFIX.key (PKCS#8 PEM, mode 0600, unencrypted: keep it
safe) signs with drover sign; PREFIX.pub (PKIX PEM) verifies, with drover verify and in a
trust policy. openssl reads both; keys made by openssl (P-256 or Ed25519) work too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, pub, err := signature.Generate()
			if err != nil {
				return exitCode(1, err.Error())
			}
			keyFile, pubFile := prefix+".key", prefix+".pub"
			for _, f := range []string{keyFile, pubFile} {
				if _, err := os.Stat(f); err == nil {
					return exitCode(1, fmt.Sprintf("%s exists: remove it or choose another --output-key-prefix", f))
				}
			}
			if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
				return exitCode(1, err.Error())
			}
			if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
				os.Remove(keyFile)
				return exitCode(1, err.Error())
			}
			fmt.Printf("Private key written to %s\nPublic key written to %s\n", keyFile, pubFile)
			return nil
		},
	}
	gen.Flags().StringVar(&prefix, "output-key-prefix", "drover", "path prefix of the key files")
	cmd.AddCommand(gen)
	return cmd
}

// registryClient is a registry client of the CLI's own (no image store: it only reads
// and writes manifests and small blobs).
func registryClient(ref string, insecure bool) (*remote.Client, api.AuthConfig, error) {
	host := registryOf(ref)
	var opts remote.Options
	if insecure {
		opts.Insecure = []string{host}
	}
	f, err := auth.Load(auth.DefaultConfigPath())
	if err != nil {
		return nil, api.AuthConfig{}, err
	}
	a, err := f.Get(host)
	if err != nil {
		return nil, api.AuthConfig{}, err
	}
	return remote.New(nil, opts), a, nil
}

func signCommand() *cobra.Command {
	var keyFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "sign --key KEY IMAGE",
		Short: "Sign an image in its registry (cosign's key-based format)",
		Long: `Sign the manifest IMAGE names in its registry: the signature (a simple signing payload
naming the repository and the manifest digest, signed with KEY) is pushed to the same
repository under the tag sha256-<digest>.sig, as cosign does; cosign verify --key reads it.
Signatures already there are kept.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return exitCode(1, "--key is required: a PEM private key (drover key generate makes one)")
			}
			key, err := signature.LoadPrivateKey(keyFile)
			if err != nil {
				return exitCode(1, err.Error())
			}
			c, a, err := registryClient(args[0], insecure)
			if err != nil {
				return exitCode(1, err.Error())
			}
			ref, d, err := c.Resolve(cmd.Context(), args[0], a)
			if err != nil {
				return exitCode(1, fmt.Sprintf("sign %s: %v", args[0], err))
			}
			sig, err := signature.Sign(key, signature.NewPayload(ref.Name(), d))
			if err != nil {
				return exitCode(1, err.Error())
			}
			if err := c.PushSignature(cmd.Context(), ref, d, sig, a); err != nil {
				return exitCode(1, fmt.Sprintf("sign %s: %v", args[0], err))
			}
			fmt.Printf("Signed %s@%s\nPushed %s:%s\n", ref.Name(), d, ref.Name(), signature.Tag(d))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM private key (ECDSA P-256 or Ed25519)")
	cmd.Flags().BoolVar(&insecure, "insecure-registry", false, "allow plain HTTP or unverified TLS to the image's registry (loopback always may)")
	return cmd
}

func verifyCommand() *cobra.Command {
	var keyFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "verify --key PUB IMAGE",
		Short: "Check that an image in its registry is signed by a key",
		Long: `Check that the manifest IMAGE names in its registry has a signature by the public key
PUB for that exact digest: an image changed after signing, or signed by another key,
fails (exit status 1). As with cosign verify, the repository the signature names is not
required to be IMAGE's (a copied image keeps its signatures); a trust policy checks it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return exitCode(1, "--key is required: a PEM public key")
			}
			pub, err := signature.LoadPublicKey(keyFile)
			if err != nil {
				return exitCode(1, err.Error())
			}
			c, a, err := registryClient(args[0], insecure)
			if err != nil {
				return exitCode(1, err.Error())
			}
			ref, d, n, err := verifyImage(cmd.Context(), c, args[0], a, pub)
			if err != nil {
				return exitCode(1, fmt.Sprintf("verify %s: %v", args[0], err))
			}
			fmt.Printf("Verified %s@%s: %d signature(s) by %s\n", ref.Name(), d, n, filepath.Base(keyFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM public key (ECDSA P-256 or Ed25519)")
	cmd.Flags().BoolVar(&insecure, "insecure-registry", false, "allow plain HTTP or unverified TLS to the image's registry (loopback always may)")
	return cmd
}

// verifyImage counts the signatures of ref's manifest that pub verifies.
func verifyImage(ctx context.Context, c *remote.Client, refStr string, a api.AuthConfig, pub any) (image.Reference, string, int, error) {
	ref, d, err := c.Resolve(ctx, refStr, a)
	if err != nil {
		return ref, "", 0, err
	}
	sigs, err := c.Signatures(ctx, ref, d, a)
	if err != nil {
		return ref, "", 0, err
	}
	if len(sigs) == 0 {
		return ref, "", 0, fmt.Errorf("no signatures found for %s (tag %s)", d, signature.Tag(d))
	}
	n := 0
	var errs []error
	for _, s := range sigs {
		// As cosign verify does, the digest is checked and the signed repository is not
		// (an image copied elsewhere keeps its signatures); a trust policy checks both.
		if err := signature.Verify(pub, s, "", d); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n == 0 {
		return ref, "", 0, fmt.Errorf("none of the %d signatures verifies with this key: %w", len(sigs), errors.Join(errs...))
	}
	return ref, d.String(), n, nil
}
