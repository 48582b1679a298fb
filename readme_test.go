package kith_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadme: what the README tells a new user to run does not leave key
// files in the checkout, keys minted by hand are ignored by git, and its
// links to files of the repository lead somewhere.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	mints := regexp.MustCompile(`(?m)^.*svid mint .*--key (\S+).*$`).FindAllStringSubmatch(readme, -1)
	if len(mints) == 0 {
		t.Fatal("the README shows no svid mint with --key")
	}
	for _, m := range mints {
		if key := m[1]; !strings.HasPrefix(key, "$") && !strings.HasPrefix(key, "/") && !strings.HasPrefix(key, "FILE") {
			t.Errorf("the README mints a key into the current folder (--key %s): %s", key, m[0])
		}
	}
	gi, err := os.ReadFile(".gitignore")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(gi)), "*.pem") {
		t.Error(".gitignore does not ignore *.pem: a key minted by hand could be committed")
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.FromSlash(m[1])); err != nil {
			t.Errorf("README links to %s: %v", m[1], err)
		}
	}
}
