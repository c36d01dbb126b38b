#!/bin/sh
# build-docs.sh OUTDIR VERSION: builds the packages' generated documents
# into OUTDIR, the same bytes for the same VERSION and SOURCE_DATE_EPOCH:
#   wgtray.1.gz, wgtray-helper.8.gz   the man pages, version and date filled in
#   changelog.yml                     the changelog, for nfpm
# gzip -9n stores neither a file name nor a time stamp. `make packages`
# runs it; nothing here needs the network or tools beyond coreutils/gzip.
set -eu
out=$1
version=$2
: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (make packages does)}"
here=$(dirname "$0")
mkdir -p "$out"
# The man pages' date and the changelog's are the commit's, in UTC, in
# the C locale, so that neither the clock nor the builder's locale leaks in.
export LC_ALL=C TZ=UTC
mandate=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
for page in wgtray.1 wgtray-helper.8; do
	sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$mandate/g" "$here/man/$page" | gzip -9n >"$out/$page.gz"
done
# The changelog, in the YAML that nfpm turns into the .deb's
# changelog.Debian.gz (gzip, no time stamp) and the RPM's %changelog.
cat >"$out/changelog.yml" <<CHANGELOG
- semver: $version-1
  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  packager: wgtray developers <wgtray@users.noreply.github.com>
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - note: Upstream snapshot $version (see the git history).
CHANGELOG
