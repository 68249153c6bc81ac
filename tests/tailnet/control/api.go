package main

// The slice of Tailscale's public API that the tailscale CLI calls to mint an auth key, served in
// front of testcontrol (which panics on paths it does not know):
//
//	POST /api/v2/oauth/token-exchange  workload identity federation: a signed OIDC ID token for an
//	                                   access token (form grant_type, client_id, jwt)
//	POST /api/v2/oauth/token           an OAuth client secret for an access token (client credentials)
//	POST /api/v2/tailnet/-/keys        an access token for an auth key (status exactly 200)
//
// Every key it mints is the one key testcontrol requires, so a node can join only through this
// path (or by holding that key already). Refusals read like Tailscale's: a terse JSON message.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

const googleIssuer = "https://accounts.google.com"

// federation is the federated identity the tailnet trusts (Tailscale admin console: issuer,
// subject, audience) and the OAuth client it knows; each may assign only its tags.
type federation struct {
	key      *rsa.PublicKey // nil: no federated identity configured
	clientID string
	audience string
	subject  string
	secret   string // the OAuth client secret, without "?attributes"; empty: none
	tags     []string
	authKey  string // what every mint returns: testcontrol's RequireAuthKey
}

// mint is one key the API handed out, with the attributes asked for.
type mint struct {
	Via           string    `json:"via"` // "identity-federation" or "oauth-client"
	Reusable      bool      `json:"reusable"`
	Ephemeral     bool      `json:"ephemeral"`
	Preauthorized bool      `json:"preauthorized"`
	Tags          []string  `json:"tags"`
	At            time.Time `json:"at"`
	Bound         bool      `json:"bound"` // a node has registered with it
}

type api struct {
	fed    federation
	mu     sync.Mutex
	tokens map[string]string // access token -> how it was obtained
	mints  []mint
	// refusals says why each refused call was refused, oldest first
	refusals []string
}

func newAPI(fed federation) *api {
	return &api{fed: fed, tokens: map[string]string{}}
}

func loadRSAPublicKey(path string) (*rsa.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA public key: %T", parsed)
	}
	return pub, nil
}

func (a *api) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v2/oauth/token-exchange", a.tokenExchange)
	mux.HandleFunc("POST /api/v2/oauth/token", a.clientCredentials)
	mux.HandleFunc("POST /api/v2/tailnet/{tailnet}/keys", a.createKey)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		a.refuse(w, http.StatusNotFound, "not found", r.URL.Path)
	})
	mux.HandleFunc("GET /_test/keys", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"minted": append([]mint{}, a.mints...), "refused": append([]string{}, a.refusals...)})
	})
}

// refuse answers as Tailscale's API does, {"message": ...}, and records why (the answer says
// little, as the real one does: a federated identity that does not match gets 403 "Unauthorized").
func (a *api) refuse(w http.ResponseWriter, status int, message, why string) {
	log.Printf("api: refused (%d): %s", status, why)
	a.mu.Lock()
	a.refusals = append(a.refusals, why)
	a.mu.Unlock()
	writeJSON(w, status, map[string]string{"message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *api) issueToken(how string) string {
	buf := make([]byte, 16)
	rand.Read(buf)
	token := "tsat-test-" + hex.EncodeToString(buf)
	a.mu.Lock()
	a.tokens[token] = how
	a.mu.Unlock()
	return token
}

// grant parses an OAuth token request and checks its grant_type; false: refused already.
func (a *api) grant(w http.ResponseWriter, r *http.Request, grantType string) bool {
	if err := r.ParseForm(); err != nil {
		a.refuse(w, http.StatusBadRequest, "bad request", err.Error())
		return false
	}
	if got := r.PostForm.Get("grant_type"); got != grantType {
		a.refuse(w, http.StatusBadRequest, "unsupported grant_type", "grant_type "+got)
		return false
	}
	return true
}

func (a *api) tokenExchange(w http.ResponseWriter, r *http.Request) {
	if !a.grant(w, r, "authorization_code") {
		return
	}
	if a.fed.key == nil || r.PostForm.Get("client_id") != a.fed.clientID {
		a.refuse(w, http.StatusForbidden, "Unauthorized", "unknown client_id "+r.PostForm.Get("client_id"))
		return
	}
	if err := a.checkIDToken(r.PostForm.Get("jwt")); err != nil {
		a.refuse(w, http.StatusForbidden, "Unauthorized", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": a.issueToken("identity-federation"), "token_type": "Bearer", "expires_in": 3600,
	})
}

// checkIDToken verifies an RS256 JWT against the federated identity: signature, issuer, audience,
// subject, and its lifetime.
func (a *api) checkIDToken(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("jwt: not three parts")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return fmt.Errorf("jwt header: %w", err)
	}
	if header.Alg != "RS256" {
		return fmt.Errorf("jwt: alg %q", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("jwt signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(a.fed.key, crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("jwt: signature: %w", err)
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp int64           `json:"exp"`
		Iat int64           `json:"iat"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return fmt.Errorf("jwt claims: %w", err)
	}
	var audiences []string
	var single string
	if json.Unmarshal(claims.Aud, &single) == nil {
		audiences = []string{single}
	} else if err := json.Unmarshal(claims.Aud, &audiences); err != nil {
		return fmt.Errorf("jwt: aud: %w", err)
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != googleIssuer:
		return fmt.Errorf("jwt: issuer %q, want %q", claims.Iss, googleIssuer)
	case !slices.Contains(audiences, a.fed.audience):
		return fmt.Errorf("jwt: audience %q, want %q", audiences, a.fed.audience)
	case claims.Sub != a.fed.subject:
		return fmt.Errorf("jwt: subject %q, want %q", claims.Sub, a.fed.subject)
	case claims.Exp <= now:
		return fmt.Errorf("jwt: expired %d s ago", now-claims.Exp)
	case claims.Iat > now+60:
		return fmt.Errorf("jwt: issued %d s in the future", claims.Iat-now)
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// clientCredentials is the OAuth client-credentials grant; the secret comes in HTTP Basic auth
// (first try of golang.org/x/oauth2) or in the form (its retry).
func (a *api) clientCredentials(w http.ResponseWriter, r *http.Request) {
	if !a.grant(w, r, "client_credentials") {
		return
	}
	_, secret, ok := r.BasicAuth()
	if !ok {
		secret = r.PostForm.Get("client_secret")
	}
	if a.fed.secret == "" || secret != a.fed.secret {
		a.refuse(w, http.StatusUnauthorized, "invalid client credentials", "wrong OAuth client secret")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": a.issueToken("oauth-client"), "token_type": "Bearer", "expires_in": 3600,
	})
}

// accessToken reads the token as either client sends it: identity federation as HTTP Basic
// (token, no password), the OAuth client as a Bearer token.
func accessToken(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return user
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (a *api) createKey(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	via, known := a.tokens[accessToken(r)]
	a.mu.Unlock()
	if !known {
		a.refuse(w, http.StatusUnauthorized, "API token invalid", "unknown access token")
		return
	}
	if tailnet := r.PathValue("tailnet"); tailnet != "-" {
		a.refuse(w, http.StatusNotFound, "tailnet not found", "tailnet "+tailnet)
		return
	}
	var body struct {
		Capabilities struct {
			Devices struct {
				Create struct {
					Reusable      bool     `json:"reusable"`
					Ephemeral     bool     `json:"ephemeral"`
					Preauthorized bool     `json:"preauthorized"`
					Tags          []string `json:"tags"`
				} `json:"create"`
			} `json:"devices"`
		} `json:"capabilities"`
		ExpirySeconds int64 `json:"expirySeconds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		a.refuse(w, http.StatusBadRequest, "invalid request body", err.Error())
		return
	}
	want := body.Capabilities.Devices.Create
	// Keys minted by OAuth clients and federated identities must be tagged, with tags the
	// credential owns.
	if len(want.Tags) == 0 || slices.ContainsFunc(want.Tags, func(t string) bool { return !slices.Contains(a.fed.tags, t) }) {
		a.refuse(w, http.StatusBadRequest, fmt.Sprintf("requested tags %v are invalid or not permitted", want.Tags),
			fmt.Sprintf("tags %v, allowed %v", want.Tags, a.fed.tags))
		return
	}
	now := time.Now().UTC()
	m := mint{Via: via, Reusable: want.Reusable, Ephemeral: want.Ephemeral, Preauthorized: want.Preauthorized,
		Tags: want.Tags, At: now}
	a.mu.Lock()
	a.mints = append(a.mints, m)
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("k%d", now.UnixNano()), "key": a.fed.authKey, "created": now,
		"expires": now.Add(90 * 24 * time.Hour), "capabilities": body.Capabilities,
	})
}

// takeMint binds the oldest unbound mint of the last minute to a node seen for the first time.
func (a *api) takeMint() (mint, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.mints {
		m := &a.mints[i]
		if m.Bound || time.Since(m.At) > time.Minute {
			continue
		}
		m.Bound = true
		return *m, true
	}
	return mint{}, false
}
