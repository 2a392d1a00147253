from faces.web.forms import MAX_LENGTH, display_name


def test_paths_and_controls_are_removed() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\me\\IMG_1.JPG") == "IMG_1.JPG"
    assert display_name("a\x00b\u202ec.jpg") == "abc.jpg"
    assert display_name("  many   spaces\t.jpg ") == "many spaces.jpg"  # tab is a control
    assert display_name("") == display_name(None) == display_name("..") == "photo"


def test_long_names_are_shortened_keeping_the_extension() -> None:
    name = display_name("x" * 1000 + ".jpeg")
    assert len(name) <= MAX_LENGTH and name.endswith(".jpeg")


def test_unicode_is_kept() -> None:
    assert display_name("Café 日本 😀.jpg") == "Café 日本 😀.jpg"
