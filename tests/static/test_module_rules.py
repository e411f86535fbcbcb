"""NRJ001, NRJ002, NRJ020, NRJ021, NRJ900: the module as a whole."""

from __future__ import annotations

import pytest

from netraven_contracts.static import check_source

from .helpers import META, expected, found, module

OK_RUN = 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n'


def test_no_run_function_is_reported_at_line_1() -> None:
    source = module('def execute(device, job_id, config, db):  #! NRJ001@1\n    return {}\n')
    assert found(source) == expected(source)


def test_run_imported_from_elsewhere_is_unknown_not_missing() -> None:
    source = module("from netraven.worker.common import run  #! NRJ015\n")
    assert found(source) == expected(source)


def test_run_defined_inside_a_top_level_if_counts() -> None:
    source = module("import sys\nif sys.version_info >= (3, 11):\n"
                    "    def run(device, job_id, config, db):\n        return {'success': True, 'device_id': device.id}\n")
    assert found(source) == []


SIGNATURES = {
    "four_positional": ("def run(device, job_id, config, db):", []),
    "positional_only": ("def run(device, job_id, config, db, /):", []),
    "extra_with_default": ("def run(device, job_id, config, db, retries=3):", []),
    "star_args": ("def run(device, *args):", []),
    "optional_keyword_only": ("def run(device, job_id, config, db, *, dry=False):", []),
    "too_few": ("def run(device, config):", ["NRJ002"]),
    "too_many_required": ("def run(device, job_id, config, db, extra):", ["NRJ002"]),
    "required_keyword_only": ("def run(device, job_id, config, db, *, mode):", ["NRJ002"]),
    "async_def": ("async def run(device, job_id, config, db):", ["NRJ002"]),
}


@pytest.mark.parametrize("header,codes", SIGNATURES.values(), ids=SIGNATURES.keys())
def test_run_signature(header: str, codes: list[str]) -> None:
    source = META + f'{header}\n    return {{"success": True, "device_id": 1}}\n'
    assert found(source) == [(code, 2) for code in codes]


def test_def_line_is_the_def_keyword_not_the_decorator() -> None:
    source = META + "import functools\n\n@functools.lru_cache\n@other(\n    1)\ndef run(device):\n    return {}\n"
    assert found(source) == [("NRJ002", 7)]


def test_nrj002_message_names_every_reason() -> None:
    (finding,) = check_source(META + "async def run(device, *, mode):\n    return {}\n", "j.py")
    assert finding.message == ("`run` cannot be called as run(device, job_id, config, db): it is `async def`, so "
                               "calling it returns a coroutine instead of a result; it accepts only 1 positional "
                               'argument; its keyword-only parameter "mode" has no default; declare it as '
                               "`def run(device, job_id, config, db):`")


def test_missing_job_meta_is_reported_at_line_1() -> None:
    assert found(OK_RUN) == [("NRJ020", 1)]


def test_job_meta_that_is_not_a_dict_literal() -> None:
    source = "import x\nJOB_META = dict(label='a')\n" + OK_RUN
    assert found(source) == [("NRJ020", 2)]


def test_job_meta_missing_and_non_str_values() -> None:
    source = 'JOB_META = {\n    "label": "A",\n    "description": b"bytes",\n    "default_schedule": 3600,\n}\n' + OK_RUN
    findings = check_source(source, "j.py")
    assert [(f.code, f.line) for f in findings] == [("NRJ021", 1)] * 3
    assert sorted(f.message for f in findings) == [
        'JOB_META "default_schedule" is a number, not a str literal; write it as a string, e.g. "default_schedule": "..."',
        'JOB_META "description" is bytes, not a str literal; write it as a string, e.g. "description": "..."',
        'JOB_META lacks "icon"; add "icon": "..." (a str)',
    ]


def test_job_meta_with_extra_keys_and_fstrings_is_fine() -> None:
    source = ('NAME = "x"\nJOB_META = {"label": f"{NAME}", "description": "d" "e", "icon": "i", '
              '"default_schedule": "daily", "category": "ops", "order": 3}\n' + OK_RUN)
    assert found(source) == []


def test_job_meta_splat_cannot_be_checked_for_missing_keys() -> None:
    source = 'BASE = {"icon": "i"}\nJOB_META = {**BASE, "label": "a", "description": "d", "default_schedule": "x"}\n' + OK_RUN
    assert found(source) == []


UNPARSEABLE = {
    "syntax_error": (META + "def run(device, job_id, config, db)\n    return {}\n", 3),
    "nul_byte": (META + "x = 1\n\x00\n", 3),
    "bad_indentation": (META + "def run(device, job_id, config, db):\n\treturn 1\n        return 2\n", 4),
}


@pytest.mark.parametrize("source,line", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_unparseable_source_is_nrj900(source: str, line: int) -> None:
    findings = check_source(source, "j.py")
    assert [(f.code, f.severity.value) for f in findings] == [("NRJ900", "error")]
    assert findings[0].line in (line, line - 1)


def test_undecodable_bytes_are_nrj900_at_their_line() -> None:
    (finding,) = check_source(META.encode() + b"x = '\xff\xfe'\n", "j.py")
    assert (finding.code, finding.line) == ("NRJ900", 2)
    assert "not valid utf-8" in finding.message


def test_latin1_cookie_is_honoured() -> None:
    source = b"# -*- coding: latin-1 -*-\n" + META.encode() + OK_RUN.replace("True", "'\xe9' == 'x'").encode("latin-1")
    assert check_source(source, "j.py") == []


def test_missing_file_is_nrj900(tmp_path) -> None:
    from netraven_contracts.static import check_file

    (finding,) = check_file(tmp_path / "gone.py")
    assert (finding.code, finding.line, finding.column) == ("NRJ900", 1, 1)
    assert "No such file or directory" in finding.message


def test_newer_syntax_parses_whatever_python_runs() -> None:
    source = module('''
        type Result = dict[str, object]

        def run[T](device, job_id, config, db):
            label = f"{'nested' + f"{device.hostname}"}"
            return {"success": True, "device_id": device.id, "details": {"label": label}}
        ''')
    assert found(source) == []
