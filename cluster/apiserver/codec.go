package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/yaml"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/kube"
)

// Media types the server reads and writes.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// wantsYAML says whether the caller asked for YAML over JSON.
func wantsYAML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaYAML:
			return true
		case mediaJSON, "*/*":
			return false
		}
	}
	return false
}

// protobufCodec encodes typed objects for clients that prefer protobuf, as
// client-go's clientsets do; made on first use, as the scheme is.
var protobufCodec = sync.OnceValue(func() *protobuf.Serializer { return protobuf.NewSerializer(kube.Scheme(), kube.Scheme()) })

// wantsProtobuf says whether the Accept header prefers protobuf for a
// plain object (tables and metadata are served as JSON).
func wantsProtobuf(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["as"] != "" {
			continue
		}
		return mt == mediaProtobuf
	}
	return false
}

// writeObject writes v as JSON (or YAML, or protobuf for a typed object,
// when asked) with the status code.
func writeObject(w http.ResponseWriter, r *http.Request, code int, v any) {
	if obj, ok := v.(runtime.Object); ok && r != nil && wantsProtobuf(r) {
		var buf bytes.Buffer
		if err := protobufCodec().Encode(obj, &buf); err == nil {
			w.Header().Set("Content-Type", mediaProtobuf)
			w.WriteHeader(code)
			_, _ = w.Write(buf.Bytes())
			return
		}
		// Not every type has a protobuf form: JSON is always acceptable.
	}
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":"InternalError","code":500}`, "encode response: "+err.Error()))
	}
	if r != nil && wantsYAML(r) {
		if y, yerr := yaml.JSONToYAML(b); yerr == nil {
			w.Header().Set("Content-Type", mediaYAML)
			w.WriteHeader(code)
			_, _ = w.Write(y)
			return
		}
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// fieldValidation is the request's fieldValidation directive; absent is
// Warn, as on Kubernetes since 1.27.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "":
		return "Warn", nil
	case "Strict", "Warn", "Ignore":
		return v, nil
	}
	return "", badRequest("fieldValidation must be one of Strict, Warn or Ignore, not %q", v)
}

// decodeBody decodes a request body into a new object of kind k, honouring
// the content type and fieldValidation. Warnings for Warn mode go to w.
func decodeBody(w http.ResponseWriter, r *http.Request, body []byte, _ *kinds.Kind, gvk schema.GroupVersionKind, into runtime.Object) (runtime.Object, error) {
	mode, err := fieldValidation(r)
	if err != nil {
		return nil, err
	}
	ct := r.Header.Get("Content-Type")
	mt := mediaJSON
	if ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, unsupportedMedia(ct)
		}
	}
	var dec runtime.Decoder
	switch mt {
	case mediaJSON:
		dec = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, kube.Scheme(), kube.Scheme(), kjson.SerializerOptions{Strict: mode != "Ignore"})
	case mediaYAML, "application/x-yaml", "text/yaml":
		dec = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, kube.Scheme(), kube.Scheme(), kjson.SerializerOptions{Yaml: true, Strict: mode != "Ignore"})
	case mediaProtobuf:
		dec = kube.Codecs().UniversalDeserializer()
	default:
		return nil, unsupportedMedia(ct)
	}
	if len(body) == 0 {
		return nil, badRequest("the request body is empty; send a %s object", gvk.Kind)
	}
	obj, got, err := dec.Decode(body, &gvk, into)
	if err != nil {
		if strictErr, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
			if mode == "Strict" {
				return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
			}
			for _, e := range strictErr.Errors() {
				w.Header().Add("Warning", "299 - "+strconv.Quote(e.Error()))
			}
		} else {
			return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
		}
	}
	if got != nil && (got.Group != gvk.Group || got.Version != gvk.Version) {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion())
	}
	if got != nil && got.Kind != gvk.Kind {
		return nil, badRequest("the kind in the data (%s) does not match the expected kind (%s)", got.Kind, gvk.Kind)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}
