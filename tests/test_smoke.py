def test_create_album_and_journal(client, auth):
    response = client.post("/api/v1/collection/albums", json={"title": "Homogenic", "artists": ["Björk"],
                           "tracks": [{"title": "Jóga", "duration_seconds": 305}]}, headers=auth)
    assert response.status_code == 201, response.json
    assert response.json["tracks"][0]["title"] == "Jóga"
