"""Rule ``integrity``: files are exactly the reviewed ones in the lockfile.

In update mode (``--aisupply-update``) the rule records what it sees instead of comparing, for
the controller to write; it still fails on what a review must not accept (a pin that only a pull
request reaches, a reference the Hub cannot describe).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from ..inventory.core import is_hub_file
from ..lockfile.digests import GIT_SHA1_HEX

# The lockfile's entries and the Hub client are imported where an update records an entry or a
# Hub reference is checked: the license rule imports this module for ``hub_subject_id``, and a
# project without a lockfile (``lockfile = ""``) or Hub references never needs them.
if TYPE_CHECKING:
    from ..inventory.core import Inventory
    from ..lockfile.lock import HubEntry

RULE_ID = "integrity"
_UPDATE = "run `pytest --aisupply-update` and review the lockfile diff"


def hub_subject_id(repo_type: str, repo_id: str, revision: str) -> str:
    return f"{repo_type}:{repo_id}@{revision}"


class IntegrityRule:
    id = RULE_ID
    summary = "artifacts and pinned Hub references match the reviewed lockfile"

    def subjects(self, inventory: Inventory) -> Iterator[Subject]:
        if inventory.lock is None:
            return
        if not inventory.lock.exists and not inventory.update:
            # one clear failure instead of one "unreviewed" per file
            lockfile = inventory.settings.lockfile
            yield Subject(lockfile, inventory.root / lockfile, "lockfile")
            return
        for artifact in inventory.artifacts:
            if artifact.problem is None and not is_hub_file(artifact.relpath):  # Hub files: their [[hub]] entry
                yield Subject(artifact.relpath, artifact.path, "artifact", artifact.format)
        seen = set()
        for use in inventory.hub_uses:
            reference = use.reference
            if not isinstance(reference.repo_id, str) or not isinstance(reference.revision, str):
                continue
            if reference.repo_type == "github" or not GIT_SHA1_HEX.match(reference.revision):
                continue
            subject_id = hub_subject_id(reference.repo_type, reference.repo_id, reference.revision)
            if subject_id not in seen:
                seen.add(subject_id)
                yield Subject(subject_id, inventory.root / use.relpath, "hub")
        if inventory.update:
            # a code file that cannot be read may hold references to reviewed [[hub]] entries: the
            # update must not prune them; the item says why and names the file
            for code_file in inventory.code.files:
                if code_file.problem or inventory.code.parsed(code_file).facts.error:
                    yield Subject(code_file.relpath, code_file.path, "code")

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        if subject.kind == "lockfile":
            if inventory.lock is not None and not inventory.lock.exists:
                yield Finding(
                    self.id,
                    subject.id,
                    f"no lockfile yet: nothing in this project has been reviewed ({subject.id} is missing)",
                    f'{_UPDATE}, then commit {subject.id}; or set lockfile = "" to turn the integrity rule off',
                )
            return
        if subject.kind == "hub":
            yield from self._check_hub(subject, inventory)
        elif subject.kind == "code":
            yield from self._check_unread_code(subject, inventory)
        else:
            yield from self._check_artifact(subject, inventory)

    def _check_artifact(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        lock = inventory.lock
        artifact = inventory.by_relpath.get(subject.id)
        if lock is None or artifact is None:
            return
        if inventory.parallel_hashing and not inventory.hash_cache.prefetched:
            inventory.hash_cache.prefetched = True
            inventory.hash_cache.prefetch(
                a.path for a in inventory.artifacts if a.problem is None and not is_hub_file(a.relpath)
            )
        try:
            size = subject.path.stat().st_size
            digest = inventory.sha256(subject.path)
        except OSError as exc:
            yield Finding(self.id, subject.id, f"cannot be hashed: {exc.strerror or exc}", "make the file readable")
            return
        if inventory.update:
            # The format as read, whichever checks ran before in this process: under xdist the
            # worker that records a file may not be the one whose no-pickle check read it, and the
            # lockfile must not depend on that. Outside an update the format is not compared, so a
            # plain run still only hashes.
            local = artifact.problem is None and not is_hub_file(artifact.relpath)
            read = inventory.facts(artifact).format if local else None
            from ..lockfile.lock import ArtifactEntry

            recorded_format = read or inventory.format_of(subject) or artifact.format
            inventory.recorded[subject.id] = ArtifactEntry(subject.id, recorded_format, size, digest, inventory.today)
            return
        entry = lock.artifacts.get(subject.id)
        if entry is None:
            yield Finding(self.id, subject.id, f"unreviewed: not in {inventory.settings.lockfile}", _UPDATE)
            return
        if entry.sha256 != digest or entry.size != size:
            yield Finding(
                self.id,
                subject.id,
                f"content differs from the lockfile: sha256 {digest} (size {size}), "
                f"reviewed {entry.sha256} (size {entry.size})",
                f"if the change is expected, {_UPDATE}; otherwise restore the reviewed file",
            )
        yield from self._stale(subject, entry.reviewed, inventory)

    def _check_hub(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        lock = inventory.lock
        if lock is None:
            return
        repo_type, _, rest = subject.id.partition(":")
        repo_id, _, revision = rest.rpartition("@")
        if inventory.update:
            from ..hub.api import HubError, fetch_entry

            try:
                entry = fetch_entry(repo_type, repo_id, revision, inventory.today)
            except HubError as exc:
                # nothing recorded: the lock writer keeps the reviewed entry exactly as it is
                yield Finding(
                    self.id,
                    subject.id,
                    f"could not be recorded: {exc}",
                    "run the update again with network access to the Hub (HF_ENDPOINT), and a token for gated repos",
                )
                return
            try:
                entry = _with_facts(entry, inventory)
            except HubError as exc:
                yield Finding(
                    self.id,
                    subject.id,
                    f"could not be checked: {exc}",
                    "run the update again with network access to the Hub (HF_ENDPOINT), and a token for gated repos",
                )
                return
            previous = lock.hub_entry(repo_type, repo_id, revision)
            if previous is not None and previous.same_content(entry):
                entry = replace(entry, reviewed=previous.reviewed)
            inventory.recorded[subject.id] = entry
        else:
            found = lock.hub_entry(repo_type, repo_id, revision)
            if found is None:
                yield Finding(self.id, subject.id, f"unreviewed: not in {inventory.settings.lockfile}", _UPDATE)
                return
            entry = found
        if not any(ref.startswith(("refs/heads/", "refs/tags/")) for ref in entry.reachable_from):
            where = ", ".join(entry.reachable_from) or "no branch, tag or pull request"
            yield Finding(
                self.id,
                subject.id,
                f"the pinned commit is not on any branch or tag (reachable from: {where}); "
                "it may be an unmerged pull request",
                "pin a commit of the default branch or a release tag",
            )
        yield from self._check_cache(subject, entry)
        if not inventory.update:
            yield from self._stale(subject, entry.reviewed, inventory)

    def _check_unread_code(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        for code_file in inventory.code.files:
            if code_file.relpath == subject.id:
                error = code_file.problem or inventory.code.parsed(code_file).facts.error
                yield Finding(
                    self.id,
                    subject.id,
                    f"its Hub references could not be read ({error}); every [[hub]] entry of the lockfile is kept "
                    "as it is, none pruned",
                    "fix the file so that it parses (or exclude it in [tool.aisupply] code/exclude), then run the "
                    "update again",
                )

    def _check_cache(self, subject: Subject, entry: HubEntry) -> Iterator[Finding]:
        from ..hub.api import cached_digest, cached_files
        from ..lockfile.hashing import sha256_file

        for rel, path, item in cached_files(entry):
            if item is None:
                yield Finding(
                    self.id,
                    subject.id,
                    f"the local Hugging Face cache holds {rel}, which is not a file of the reviewed commit",
                    "delete the cached snapshot and download it again",
                    where=str(path),
                )
                continue
            actual = cached_digest(path, item, sha256_file)
            expected = item.sha256 or item.git_sha1
            if actual != expected:
                kind = "sha256" if item.sha256 else "git sha1"
                yield Finding(
                    self.id,
                    subject.id,
                    f"cached file {rel} was modified: {kind} {actual}, reviewed {expected}",
                    "delete the cached snapshot (huggingface-cli / hf cache delete) and download it again",
                    where=str(path),
                )

    def _stale(self, subject: Subject, reviewed: dt.date, inventory: Inventory) -> Iterator[Finding]:
        days = inventory.settings.max_review_age_days
        if days is not None and (inventory.today - reviewed).days > days:
            yield Finding(
                self.id,
                subject.id,
                f"stale review: reviewed on {reviewed.isoformat()}, more than {days} days ago",
                f"review it again: {_UPDATE} (the date changes only when content changes, so edit its "
                "'reviewed' date after the review)",
            )


def _with_facts(entry: HubEntry, inventory: Inventory) -> HubEntry:
    """The entry with the readers' facts about every file its references load, read over HTTP ranges
    (or from a matching local HF cache). Raises HubError when a file cannot be read."""
    from ..formats.facts_json import encode_facts
    from ..hub.api import HubError
    from ..hub.remote import read_hub_files

    uses = inventory.pinned_hub_uses.get(entry.key, [])
    planned = set(inventory.hub_plan(uses, entry))
    wanted = [item for item in entry.files if item.path in planned]
    if not wanted:
        return entry
    read = {
        result.path: result.facts
        for result in read_hub_files(
            entry.repo_type, entry.repo_id, entry.revision, wanted, readers=inventory.readers, limits=inventory.limits
        )
    }
    try:
        files = tuple(
            replace(item, format=read[item.path].format, facts=encode_facts(read[item.path]))
            if item.path in read
            else item
            for item in entry.files
        )
    except TypeError as exc:
        raise HubError(f"the facts read cannot be recorded: {exc}") from exc
    return replace(entry, files=files)
