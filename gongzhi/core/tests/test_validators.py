import pytest
from django.core.exceptions import ValidationError

from conftest import VALID_CREDIT_CODES, VALID_ID_NUMBERS
from gongzhi.core.validators import (
    credit_code_check_char,
    id_number_check_char,
    validate_credit_code,
    validate_id_number,
    validate_mobile,
)


@pytest.mark.parametrize("number", VALID_ID_NUMBERS)
def test_it_accepts_id_numbers_with_a_correct_check_digit(number):
    validate_id_number(number)


def test_it_accepts_a_lower_case_x():
    validate_id_number("11010519491231002x")


@pytest.mark.parametrize(
    "number,code",
    [
        ("110101199003074478", "id_check"),  # last digit off by one
        ("11010119900307447", "id_format"),  # 17 characters
        ("110101199013074477", "id_birth_date"),  # month 13
        ("11010121000307447X", "id_birth_date"),  # born in the future
    ],
)
def test_it_rejects_bad_id_numbers_with_the_reason(number, code):
    with pytest.raises(ValidationError) as raised:
        validate_id_number(number)
    assert raised.value.code == code


def test_it_computes_the_gb11643_check_character():
    assert id_number_check_char("11010519491231002") == "X"


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_it_accepts_valid_credit_codes(code):
    validate_credit_code(code)


def test_it_rejects_a_credit_code_with_a_wrong_check_character():
    code = VALID_CREDIT_CODES[0]
    wrong = "0" if code[-1] != "0" else "1"
    with pytest.raises(ValidationError) as raised:
        validate_credit_code(code[:-1] + wrong)
    assert raised.value.code == "credit_code_check"


def test_it_rejects_letters_outside_the_gb32100_alphabet():
    with pytest.raises(ValidationError):
        validate_credit_code("91350100M000100I43")


def test_it_computes_the_gb32100_check_character():
    assert credit_code_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("mobile", ["13812345678", "+86 138 1234 5678", "199-0000-1111"])
def test_it_accepts_mainland_mobile_numbers(mobile):
    validate_mobile(mobile)


@pytest.mark.parametrize("mobile", ["12812345678", "1381234567", "abc"])
def test_it_rejects_other_numbers(mobile):
    with pytest.raises(ValidationError):
        validate_mobile(mobile)
