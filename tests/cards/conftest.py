"""Card tests reuse the patient builders and scenarios of tests/rules (plain modules there)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rules"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))  # fixture_http
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "moments"))  # moment_support
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))  # build
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # support_browser
sys.path.insert(0, str(Path(__file__).resolve().parent))  # card_preview
