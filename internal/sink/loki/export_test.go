package loki

// For the external tests (agent_test.go): the push decoder of helpers_test.go.

// Pushed is a decoded push request.
type Pushed = pushed

// DecodePush decodes a push request's body by its headers.
var DecodePush = decodeRequest
