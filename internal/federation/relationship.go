package federation

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/store"
)

// Profile is the way a bundle endpoint is authenticated, as named by the
// SPIFFE federation specification.
type Profile string

// Bundle endpoint profiles.
const (
	// ProfileHTTPSWeb authenticates the endpoint with Web PKI.
	ProfileHTTPSWeb Profile = "https_web"
	// ProfileHTTPSSPIFFE authenticates the endpoint by its X509-SVID.
	ProfileHTTPSSPIFFE Profile = "https_spiffe"
)

// Relationship is a federation relationship with one foreign trust domain.
type Relationship struct {
	// TrustDomain is the foreign trust domain. It must not be our own.
	TrustDomain spiffeid.TrustDomain
	// BundleEndpointURL is where the foreign bundle is fetched. It must be
	// an https:// URL without user information.
	BundleEndpointURL string
	// Profile says how the endpoint is authenticated.
	Profile Profile
	// EndpointSPIFFEID is the SPIFFE ID the endpoint must present. Required
	// for ProfileHTTPSSPIFFE, forbidden for ProfileHTTPSWeb.
	EndpointSPIFFEID spiffeid.ID
}

// validate checks r on its own and against our trust domain. It returns a
// *FieldError.
func (r Relationship) validate(own spiffeid.TrustDomain) error {
	if r.TrustDomain.IsZero() {
		return fieldErr("TrustDomain", errors.New("is required"))
	}
	if r.TrustDomain == own {
		return fieldErr("TrustDomain", ErrOwnTrustDomain)
	}
	if err := validateEndpointURL(r.BundleEndpointURL); err != nil {
		return fieldErr("BundleEndpointURL", err)
	}
	switch r.Profile {
	case ProfileHTTPSWeb:
		if !r.EndpointSPIFFEID.IsZero() {
			return fieldErr("EndpointSPIFFEID", fmt.Errorf("must be empty for profile %s", ProfileHTTPSWeb))
		}
	case ProfileHTTPSSPIFFE:
		if r.EndpointSPIFFEID.IsZero() {
			return fieldErr("EndpointSPIFFEID", fmt.Errorf("is required for profile %s", ProfileHTTPSSPIFFE))
		}
	default:
		return fieldErr("Profile", fmt.Errorf("%q is not %s or %s", r.Profile, ProfileHTTPSWeb, ProfileHTTPSSPIFFE))
	}
	return nil
}

func validateEndpointURL(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("cannot parse: %w", err)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("scheme must be https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	if u.User != nil {
		return errors.New("must not carry user information")
	}
	return nil
}

// relationshipFromRecord rebuilds a validated Relationship from its stored
// form.
func relationshipFromRecord(rec store.Federation, own spiffeid.TrustDomain) (Relationship, error) {
	td, err := spiffeid.TrustDomainFromString(rec.TrustDomain)
	if err != nil {
		return Relationship{}, fmt.Errorf("trust domain %q: %w", rec.TrustDomain, err)
	}
	r := Relationship{
		TrustDomain:       td,
		BundleEndpointURL: rec.BundleEndpointURL,
		Profile:           Profile(rec.Profile),
	}
	if rec.EndpointSPIFFEID != "" {
		if r.EndpointSPIFFEID, err = spiffeid.FromString(rec.EndpointSPIFFEID); err != nil {
			return Relationship{}, fmt.Errorf("endpoint SPIFFE ID %q: %w", rec.EndpointSPIFFEID, err)
		}
	}
	if err := r.validate(own); err != nil {
		return Relationship{}, err
	}
	return r, nil
}

// endpointIDString returns the endpoint SPIFFE ID in its stored form: empty
// when not set.
func (r Relationship) endpointIDString() string {
	if r.EndpointSPIFFEID.IsZero() {
		return ""
	}
	return r.EndpointSPIFFEID.String()
}
