"""Pure rules of the audience: profile facts and tags, the segment language, automation triggers."""
