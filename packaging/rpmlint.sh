#!/bin/sh
# rpmlint.sh RPM...: runs rpmlint on the packages without letting it write
# outside its temporary directory.
#
# nfpm (through rpmpack) stores absolute file names such as /usr/bin/wgtray
# in the RPM's cpio payload; `make packages` makes them relative
# (packaging/rpmrelative). rpmlint unpacks with `rpm2cpio | cpio -id` in a
# temporary directory, and GNU cpio honours absolute names: given an RPM
# that has them, it would write the package's files into the real / (as
# root). A cpio first on PATH that adds --no-absolute-filenames keeps the
# files in rpmlint's directory whatever the RPM.
set -eu
wrap=$(mktemp -d)
trap 'rm -rf "$wrap"' EXIT
cat >"$wrap/cpio" <<'WRAP'
#!/bin/sh
exec /usr/bin/cpio --no-absolute-filenames "$@"
WRAP
chmod 755 "$wrap/cpio"
PATH=$wrap:$PATH rpmlint -r "$(dirname "$0")/rpmlintrc" "$@"
