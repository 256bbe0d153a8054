"""Makes `ansible_collections.cloudlab.openstack` importable in tests, from the checkout's link."""
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
COLLECTIONS = TOP / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
