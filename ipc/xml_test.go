package ipc

import (
	"encoding/xml"
	"strings"
)

func xmlUnmarshal(doc string, v any) error {
	return xml.NewDecoder(strings.NewReader(doc)).Decode(v)
}
