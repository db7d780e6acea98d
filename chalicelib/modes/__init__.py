"""The campaign modes beyond the invite ladder: group buying, assists and distribution."""
