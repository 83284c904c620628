"""docs/configuration.md, generated from the model so it cannot drift from the code."""

from __future__ import annotations

import shlex

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
are not dropped, requests in flight finish). A change of the auth type, and any change
while OpenID Connect is on, restarts it instead (a graceful load of mod_auth_openidc
crashed the snap's Apache workers in testing). Until an auth type is set, upstream's
need_auth vhost sends every URL to `/public/need_auth.html`; most portal keys take effect
once authentication is configured, as upstream's.

Upstream's generator protects a hand-edited vhost: when `ood-portal.conf` no longer matches
the checksum in `ood_portal.sha256sum`, the new version goes next to it as
`ood-portal.conf.new` (the snap's `httpd.conf` does the same with its own checksum);
`sudo snap run ondemand.update-portal --force` replaces it after a timestamped backup
(`ood-portal.conf.YYYYmmddTHHMMSS`; the snap keeps the newest ten).

Lists are comma-separated (`a,b,c`) or JSON lists. Placeholders: `<id>` is a cluster id
(lower-case letters, digits, `-`), `<NAME>` an environment variable name written dash-cased.
Values written into the Apache or nginx configuration may not contain line breaks, control
characters, quotes, `<`, `>`, `` ` `` or `${`, nor backslashes (except in `portal.host-regex`).
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


def render_configuration_doc() -> str:
    out = [INTRO]
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
