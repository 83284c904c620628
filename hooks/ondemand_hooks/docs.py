"""docs/configuration.md, generated from the model so it cannot drift from the code."""

from __future__ import annotations

import shlex
from pathlib import Path

from . import configfiles, upstream
from .env import Paths
from .model import KEYS, NAMESPACES, Key

INTRO = """\
# Configuring the ondemand snap

<!-- Generated from hooks/ondemand_hooks/model.py by render_configuration_doc(); do not edit. -->

Set keys with `sudo snap set ondemand KEY=VALUE ...` and read them with
`sudo snap get ondemand KEY`; `sudo snap unset ondemand KEY` returns a key to its default.
The configure hook checks **every** value before changing anything. If any value is
wrong it lists each problem, naming the key, and snapd keeps the previous
configuration: no file changes. An empty value (`KEY=""`) also means the default.

The keys mirror upstream's `ood_portal.yml`, `nginx_stage.yml` and `clusters.d` files,
dash-cased: upstream's `oidc_client_id` is `portal.oidc.client-id` here. The snap writes
those files under `/var/snap/ondemand/common/etc/ood/config/` (upstream's `/etc/ood/config/`).
The portal's Apache vhost (`/var/snap/ondemand/common/etc/apache2/ood-portal.conf`) is then
made by upstream's own generator, `update_ood_portal`, from ood_portal.yml, exactly as on an
RPM or DEB install; the snap's main `httpd.conf` around it (modules, user, logs) is the
snap's. Both are checked with `httpd -t` before they are installed, and `ondemand.apache`
reloads gracefully only if they changed (as upstream's `apachectl graceful`: connections
are not dropped, requests in flight finish). A change of the auth type restarts it instead:
it loads or unloads Apache modules, and loading mod_auth_openidc by a graceful restart
crashed the snap's Apache workers in testing (reloads with it loaded are fine). Until an auth type is set, upstream's
need_auth vhost sends every URL to `/public/need_auth.html`; most portal keys take effect
once authentication is configured, as upstream's.

Upstream's generator protects a hand-edited vhost: when `ood-portal.conf` no longer matches
the checksum in `ood_portal.sha256sum`, the new version goes next to it as
`ood-portal.conf.new` (the snap's `httpd.conf` does the same with its own checksum);
`sudo snap run ondemand.update-portal --force` replaces it after a timestamped backup
(`ood-portal.conf.YYYYmmddTHHMMSS`; the snap keeps the newest ten).

An existing site comes over with `sudo snap run ondemand.import-config [--dry-run] [DIR]`
(DIR defaults to `/etc/ood/config`). It reads the site's ood_portal.yml, nginx_stage.yml and
`clusters.d/*.yml` and prints a plan: the `snap set` keys it maps them to (ood_portal.yml's
keys above, the `ssl` certificate lines, the OpenID Connect or basic `auth` forms, nginx_stage's
`min_uid`, `nginx_file_upload_max` and `pun_custom_env`, and clusters with only a title, a
login host and `job` settings; secrets are shown as `(hidden)`), upstream's other ood_portal.yml
keys it keeps in ood_portal.site.yml, the cluster files it copies as admin files
into clusters.d, and what it cannot take and why. Keys the snap fixes (`public_root`,
`lua_root`, `pun_stage_cmd`, the routes ...) are replaced by the snap's values when they hold
upstream's defaults. Upstream's paths in the values it keeps (`/opt/ood`, `/var/www/ood`,
`/etc/ood/config`) are rewritten to the snap's, each rewrite listed. Everything is checked
first; when anything is refused nothing changes. Then it writes the site file and the cluster
copies and runs `snap set` once; if the configure hook refuses, those files are removed
again. An existing ood_portal.site.yml or clusters.d file of the same name is replaced only
with `--force`; `--dry-run` prints the plan and changes nothing.

Lists are comma-separated (`a,b,c`) or JSON lists. Placeholders: `<id>` is a cluster id
(lower-case letters, digits, `-`), `<NAME>` an environment variable name written dash-cased.
Values written into the Apache or nginx configuration may not contain line breaks, control
characters, quotes, `<`, `>`, `` ` `` or `${`, nor backslashes (except in `portal.host-regex`).

## Other upstream keys: ood_portal.site.yml

Upstream's ood_portal.yml has many keys without a `snap set` name: custom Apache
directives, log files and their format, a user-mapping command, the register and
discover pages, the PUN pre-hook and retries, security headers and more. Put those in
`/var/snap/ondemand/common/etc/ood/config/ood_portal.site.yml`, a YAML mapping of
upstream's key names to values written as upstream's documentation describes them:

```yaml
custom_vhost_directives:
  - 'Header always set X-Site "Example HPC"'
user_map_cmd: /opt/site/bin/ood-map-user
accesslog: '|/usr/bin/logger -t ondemand-access'
pun_max_retries: 10
```

The file is the admin's: the snap reads it and never writes it. Its values reach root's
hooks and may hold secrets, so it must be owned by root and writable by nobody else
(`sudo chown root:root FILE; sudo chmod 600 FILE`); otherwise it is refused. Without the
file there are no such keys.

The configure hook (every `snap set`, install and refresh) merges the file's keys into the
ood_portal.yml it writes, after the snap's own keys, and names them in that file's header;
upstream's generator then renders them as on any other install. After editing the site
file, apply it with `sudo snap run ondemand.update-portal`, which merges it again (any
`snap set` does too). The keys the snap manages still change only with `snap set`. Edit
site keys in ood_portal.site.yml, not in ood_portal.yml: update-portal refuses a site key
added to ood_portal.yml by hand.

As with `snap set`, every problem is listed and nothing changes when the file holds:

- a key the snap manages (the table below): the message names the `snap set` key to use
  instead, or the value the snap fixes;
- a key that is not an ood_portal.yml key of OnDemand {version} (with a did-you-mean hint),
  a key given twice, or anything but a mapping;
- a value upstream's Ruby cannot read from YAML (a date, a set, binary data: quote it);
- a value upstream's generator or `httpd -t` refuses: the message names the site key whose
  value is on the line Apache complained about, with Apache's words.

The snap checks nothing else in these values, so directives are the admin's responsibility,
as on any install; they can use only the modules the snap's `httpd.conf` loads (it lists
them). `dex` configures upstream's Dex, which the snap does not ship: upstream's generator
refuses it unless the host has its `ondemand-dex` package.
"""

SECTIONS = {
    "portal": "The portal: the Apache front proxy (`ood_portal.yml`)",
    "nginx-stage": "Per-user nginx (`nginx_stage.yml`)",
    "clusters": "Clusters (`clusters.d/<id>.yml`)",
}

EXAMPLES = """\
## Examples

HTTPS with OpenID Connect:

```sh
sudo snap set ondemand \\
  portal.servername=ondemand.example.edu \\
  portal.ssl.certificate=/etc/ssl/ondemand/cert.pem \\
  portal.ssl.certificate-key=/etc/ssl/ondemand/key.pem \\
  portal.oidc.provider-metadata-url=https://idp.example.edu/.well-known/openid-configuration \\
  portal.oidc.client-id=ondemand.example.edu \\
  portal.oidc.client-secret=...
```

Maintenance window, still open to the admins' network:

```sh
sudo snap set ondemand portal.maintenance.enabled=true portal.maintenance.allowlist=10.1.0.0/24
sudo snap set ondemand portal.maintenance.enabled=false
```

A Slurm cluster:

```sh
sudo snap set ondemand clusters.owens.title=Owens clusters.owens.login.host=owens.example.edu \\
  clusters.owens.job.adapter=slurm clusters.owens.job.cluster=owens
```
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


SAMPLE_PLACEHOLDERS = {"<id>": "owens", "<NAME>": "ood-dashboard-title"}


def _example_name(key: Key) -> str:
    name = key.name
    for placeholder, sample in SAMPLE_PLACEHOLDERS.items():
        name = name.replace(placeholder, sample)
    return name


def _default(key: Key) -> str:
    """Literal defaults in backticks; descriptions (`unset`, `empty`, prose) plain."""
    shown = key.shown_default()
    literal = not key.default_doc and key.default is not None and key.default != []
    return f"`{_cell(shown)}`" if literal else _cell(shown)


def _key_section(key: Key) -> list[str]:
    return [
        f"### `{key.name}`",
        "",
        _cell(key.description),
        "",
        f"- type: {_cell(key.type)}",
        f"- default: {_default(key)}",
        f"- example: `snap set ondemand {_cell(_example_name(key))}={_cell(shlex.quote(key.example))}`",
        "",
    ]


# Where the documented fixed values point: the snap's real paths.
DOC_PATHS = Paths(
    snap=Path("/snap/ondemand/current"),
    snap_common=Path("/var/snap/ondemand/common"),
    snap_data=Path("/var/snap/ondemand/current"),
    revision="current",
    name="ondemand",
)


def _site_keys_section() -> list[str]:
    siteable = configfiles.site_portal_keys(DOC_PATHS)
    managed = configfiles.managed_portal_keys(DOC_PATHS)
    out = ["Keys for ood_portal.site.yml (upstream's order): "]
    out[0] += ", ".join(f"`{name}`" for name in upstream.PORTAL_KEYS if name in siteable) + ".\n"
    out.append("Keys the snap manages, refused there:\n")
    out.append("| ood_portal.yml key | instead |")
    out.append("|---|---|")
    for name in upstream.PORTAL_KEYS:
        if name in managed:
            out.append(f"| `{name}` | {_cell(managed[name])} |")
    out.append("")
    return out


def render_configuration_doc() -> str:
    out = [INTRO.replace("{version}", upstream.ONDEMAND_VERSION)]
    out.extend(_site_keys_section())
    out.append("## All keys\n")
    out.append("| key | type | default |")
    out.append("|---|---|---|")
    for key in KEYS:
        out.append(f"| `{key.name}` | {_cell(key.type)} | {_default(key)} |")
    out.append("")
    for namespace in NAMESPACES:
        out.append(f"## {SECTIONS[namespace]}\n")
        for key in KEYS:
            if key.namespace == namespace:
                out.extend(_key_section(key))
    out.append(EXAMPLES)
    return "\n".join(out).rstrip("\n") + "\n"
