#!/bin/sh
# What the runtime images (control-plane/Containerfile, bpf/Containerfile) hold under /app, produced by the same
# commands wherever it is built: in the Containerfiles' build stages, or on a host with the image's node, as the image
# tests do (test/images/support.ts) to avoid a build base and two npm installs inside containers.
#   sh control-plane/image-app.sh deps DIR   DIR holds package.json and package-lock.json: production dependencies
#                                            exactly as the lock file pins them, in DIR/node_modules
#                                            (MESHLENS_SQLITE_ADDON=FILE: better-sqlite3's addon, already built)
#   sh control-plane/image-app.sh js OUT     from the repository root, devDependencies installed: compiled JavaScript
set -eu

case "${1:-}" in
  deps)
    cd "$2"
    if [ -n "${MESHLENS_SQLITE_ADDON:-}" ]; then
      # better-sqlite3's addon already compiled by this node for the same lock file (the image tests pass the
      # repository's own): its install script would compile SQLite again, minutes on a small machine, for the
      # same bytes. No other production dependency has an install script that runs (allowScripts in package.json).
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund
      mkdir -p node_modules/better-sqlite3/build/Release
      cp "$MESHLENS_SQLITE_ADDON" node_modules/better-sqlite3/build/Release/better_sqlite3.node
    else
      npm ci --omit=dev --no-audit --no-fund
    fi
    # better-sqlite3 is native: its install script fetches a prebuilt binary or compiles (python3, make, g++); the
    # compiler's intermediates and the bundled SQLite sources are not needed at run time.
    m=node_modules/better-sqlite3
    rm -rf "$m/deps" "$m/src" "$m/build/Release/obj" "$m/build/Release/obj.target" "$m/build/Release/.deps" \
      "$m/build/deps" "$m/build/Release/sqlite3.a" "$m/build/Release/test_extension.node"
    ;;
  js)
    # tsc is a devDependency, so only a build stage runs it. build:js (control-plane/scripts/build-js.mjs) lays dist/
    # out as /app: the compiled control plane and node agent (the agent reuses control-plane/src/protos.ts), the
    # console's static files, the .proto files protos.ts loads from ../../protos, and package.json, whose
    # "type": "module" the compiled ES modules need.
    out=$2
    npm run --silent build:js
    mkdir -p "$out"
    cp -r dist/control-plane dist/bpf dist/protos dist/package.json "$out/"
    ;;
  *)
    echo "usage: sh control-plane/image-app.sh deps DIR | js OUT" >&2
    exit 2
    ;;
esac
