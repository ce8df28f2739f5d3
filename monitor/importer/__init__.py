"""History import: an Open Terms Archive dataset folder or versions git repository in, recorded versions out.

`versions.py` finds the versions (read as untrusted), `naming.py` names the source each document is recorded
under, `record.py` records them.

Dataset layout: <service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md, one file per recorded version.
Versions repository: <service>/<terms type>.md, each commit of each file a version at the commit time (a
repository with other files below its top level is not one). Nothing else counts as history.

The history stays true however often and in whatever order slices are imported: a version already stored
(same time, same body) is skipped; versions older than what a source holds make that source's history be
recorded again in time order (`Recorder.replace_history`). A `sources.yaml` entry whose `history:` names a
document takes it over (its id, provider, title and URL), so fetching continues the same timeline. Each
version keeps its origin (dataset and file, or repository, commit and path) on its snapshot, for citing.

A dataset folder is read as untrusted: only regular files inside it (a symlink that leads out of it, or
to a device, FIFO or /proc file, is refused), each at most MAX_VERSION_BYTES, all checked before anything
is stored; folder names longer than the source columns or holding control characters are refused too.
"""

from monitor.importer.naming import source_for
from monitor.importer.record import ImportSummary, import_history
from monitor.importer.versions import EXAMPLE_DATASETS, MAX_VERSION_BYTES, HistoricVersion, find_versions

__all__ = ["EXAMPLE_DATASETS", "MAX_VERSION_BYTES", "HistoricVersion", "ImportSummary", "find_versions",
           "import_history", "source_for"]
